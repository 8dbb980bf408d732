import { expect, test } from "bun:test";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { STEPS } from "../../../src/launch/launcher.ts";
import { isAlive } from "../../../src/state/process.ts";

const UP = join(import.meta.dir, "fixtures", "up-process.ts");

// Send a real signal to a real launcher process at a given step.
async function signalAt(step: string, sig: "SIGINT" | "SIGTERM") {
  const p = Bun.spawn([process.execPath, UP, "tester-sigsg"], { stdout: "pipe", stderr: "pipe" });
  const dec = new TextDecoder();
  let out = "";
  let home = "";
  let gate: number | null = null;
  const reader = p.stdout.getReader();
  let sent = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += dec.decode(value);
    home ||= /^HOME (.+)$/m.exec(out)?.[1] ?? "";
    for (const m of out.matchAll(/^STEP \S+ (\d+)$/gm)) gate = Number(m[1]);
    if (!sent && new RegExp(`^STEP ${step} `, "m").test(out)) {
      p.kill(sig);
      sent = true;
    }
  }
  const code = await p.exited;
  return { code, out, home, gate };
}

for (const [i, step] of STEPS.filter((s) => s !== "env").entries()) {
  const sig = i % 2 === 0 ? "SIGINT" : "SIGTERM";
  test(`real process: ${sig} at step '${step}' leaves nothing running`, async () => {
    const r = await signalAt(step, sig);
    try {
      expect(r.code).toBe(sig === "SIGINT" ? 130 : 143);
      expect(r.out).toContain("live=0");
      if (r.gate !== null) expect(isAlive(r.gate)).toBe(false);
      const stateRoot = join(r.home, "state");
      const left = existsSync(stateRoot) ? readdirSync(stateRoot) : [];
      if (step === "attach") {
        // The session had begun: its state stays for resume, nothing else.
        expect(readdirSync(join(stateRoot, "tester-sigsg")).sort()).toContain(".preserve");
        expect(existsSync(join(stateRoot, "tester-sigsg", "sock", "gate.sock"))).toBe(false);
      } else {
        expect(left).toEqual([]);
      }
    } finally {
      if (r.home) rmSync(r.home, { recursive: true, force: true });
    }
  });
}
