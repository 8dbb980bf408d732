import { judgeControl } from "../judges.ts";
import type { Attack, AttackContext } from "../types.ts";
import { channelAttacks } from "./channels.ts";
import { gateAttacks } from "./gate.ts";
import { insideAttacks } from "./inside.ts";
import { sealedAttacks } from "./sealed.ts";

// The sandbox-escape catalogue: every attack is a shell body (plus the tools
// it needs) run inside a sandbox, and a judge that decides from the
// attacker's output and what the host-side receivers recorded whether it
// was blocked and by which layer. An attack "passes" only when it ran and
// was blocked by the layer we expect: a block by the wrong layer means a
// wall we believe in did not hold. Nothing here is specific to Docker: a
// peer sandbox runs the same bodies against the same receivers.

export function attacks(ctx: AttackContext): Attack[] {
  return [...gateAttacks(ctx), ...channelAttacks(ctx), ...sealedAttacks(ctx), ...insideAttacks(ctx)].sort((a, b) => a.category - b.category);
}

// Controls: the same paths with innocent content must work, otherwise the
// blocks above prove nothing (a bottle with no working door blocks all).
export function controls(ctx: AttackContext): Attack[] {
  return [
    {
      id: "0.control-https",
      category: 0,
      title: "control: clean HTTPS request to the allowed host",
      expected: "gate-policy",
      tools: ["curl"],
      body: () => `probe --data-binary 'hello world' "${ctx.allowedHttpsUrl}"`,
      judge: (ev, c) => judgeControl(ev, c),
    },
    {
      id: "0.control-credential",
      category: 0,
      title: "control: placeholder swapped for the real credential on its own host",
      expected: "gate-policy",
      tools: ["curl"],
      body: (c) => `probe -H "Authorization: Bearer $${c.credential.envVar}" "${c.allowedHttpsUrl}auth"`,
      judge: (ev, c) => {
        const v = judgeControl(ev, c);
        if (v.blocked) return v;
        return ev.arrivals.some((a) => a.text.includes(c.credential.realValue))
          ? v
          : { blocked: true, layer: null, detail: "upstream did not receive the real credential" };
      },
    },
  ];
}
