import { expect, test } from "bun:test";
import { createSteps } from "../../../../src/backends/docker/progress.ts";

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
