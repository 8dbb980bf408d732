import type { Attack, AttackOutcome, Verdict } from "./types.ts";

// An attack passes only when it ran, was blocked, AND the observed layer is
// the expected one. A control passes only when it ran and got through: a
// bottle whose door is simply shut would otherwise "pass" every attack.
export function outcomeOf(attack: Pick<Attack, "id" | "category" | "title" | "expected">, v: Verdict, control = false): AttackOutcome {
  const ran = v.ran !== false;
  const pass = ran && (control ? !v.blocked : v.blocked && v.layer === attack.expected);
  return {
    id: attack.id,
    category: attack.category,
    title: attack.title,
    expected: attack.expected,
    observed: v.layer,
    ran,
    blocked: ran && v.blocked,
    pass,
    detail: v.detail,
  };
}
