import { expect, test } from "bun:test";
import { createSteps } from "../../../../src/backends/docker/progress.ts";
import { writeAbove } from "../../../../src/ui/status-line.ts";

test("on a terminal the spinner line is cut to the width in cells, so a wide step never wraps", () => {
  const frames: string[] = [];
  const lines: string[] = [];
  const steps = createSteps({ tty: true, line: (l) => lines.push(l), write: (s) => frames.push(s) });
  const what = "构建代理镜像".repeat(20);
  steps.step(what);
  steps.done();
  const drawn = frames.filter((f) => f.length > "\r\x1b[2K".length).map((f) => f.slice("\r\x1b[2K".length));
  expect(drawn.length).toBeGreaterThan(0);
  const width = Math.max(20, (process.stderr.columns ?? 80) - 1);
  for (const d of drawn) {
    expect(Bun.stringWidth(d)).toBeLessThanOrEqual(width);
    expect(d).toEndWith("…");
  }
  // The finished step is printed whole, as a plain line.
  expect(lines).toEqual([what]);
});

// Seen on a terminal: "| agent image: checking <base>claude-bottle: starting
// gate for ..." — the launcher's own lines, written while the spinner was
// drawn, landed after the spinner's text on its line. A line written with
// writeAbove clears the spinner first and draws it again after.
test("a line printed while the spinner runs goes above it, never onto its line", () => {
  const screen: string[] = [];
  const write = (s: string) => void screen.push(s);
  const steps = createSteps({ tty: true, line: (l) => write(`claude-bottle: ${l}\n`), write });
  steps.step("agent image: checking base");
  writeAbove(write, "claude-bottle: starting gate\n");
  steps.done();
  const out = screen.join("");
  expect(out).not.toMatch(/checking base[^\r\n]*claude-bottle: starting gate/);
  // What a terminal shows once \r and erase-line have done their work.
  const shown = out.split("\n").map((l) => l.split("\r").at(-1)!.replaceAll("\x1b[2K", "")).filter(Boolean);
  expect(shown).toEqual(["claude-bottle: starting gate", "claude-bottle: agent image: checking base"]);
  // With no spinner running, writeAbove just writes.
  const plain: string[] = [];
  writeAbove((s) => void plain.push(s), "x\n");
  expect(plain).toEqual(["x\n"]);
});
