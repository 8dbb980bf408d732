import type { Attack, AttackOutcome, Verdict } from "./types.ts";

// An attack passes only when it was blocked AND the observed layer is the
// expected one. A control passes only when it got through: a bottle whose
// door is simply shut would otherwise "pass" every attack.
export function outcomeOf(attack: Attack, v: Verdict, control = false): AttackOutcome {
  const pass = control ? !v.blocked : v.blocked && v.layer === attack.expected;
  return {
    id: attack.id,
    category: attack.category,
    title: attack.title,
    expected: control ? attack.expected : attack.expected,
    observed: v.layer,
    blocked: v.blocked,
    pass,
    detail: v.detail,
  };
}
