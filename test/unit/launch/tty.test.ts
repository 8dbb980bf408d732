import { expect, test } from "bun:test";
import { join } from "node:path";

// The prompts need a real terminal: util-linux `script` gives the child a
// pseudo-terminal and feeds it our keystrokes.
const hasScript = process.platform === "linux" && Bun.which("script") !== null;
const FIX = join(import.meta.dir, "fixtures", "tty-prompts.ts");

async function typed(keys: (string | Uint8Array)[]): Promise<string> {
  const p = Bun.spawn(["script", "-qec", `${process.execPath} ${FIX}`, "/dev/null"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "ignore",
    env: { ...process.env, NO_COLOR: "1" },
  });
  let out = "";
  const dec = new TextDecoder();
  const done = (async () => {
    for await (const c of p.stdout) out += dec.decode(c, { stream: true });
  })();
  for (const k of keys) {
    await Bun.sleep(400);
    p.stdin.write(k);
    p.stdin.flush();
  }
  // The fixture exits after the second answer; bounded either way.
  const t0 = Date.now();
  while (!/RESULT|ABORTED/.test(out) && Date.now() - t0 < 5000) await Bun.sleep(50);
  p.stdin.end();
  p.kill();
  await Promise.race([done, Bun.sleep(500)]);
  return out.replace(/\r/g, "");
}

test.if(hasScript)("confirm reads a line from the tty; the secret is read without echo, with backspace", async () => {
  const out = await typed(["y\n", "ab\x7fc\r"]);
  expect(out).toContain("go? [y/N] y");
  expect(out).toContain("CONFIRM ok=true");
  expect(out).toContain("RESULT ok=true value=ac");
  // Not echoed: the typed characters appear only in our RESULT line.
  expect(out.split("RESULT")[0]).not.toContain("ac");
}, 20_000);

test.if(hasScript)("anything but y/yes declines; Ctrl-C at the secret aborts", async () => {
  const out = await typed(["n\n", "x\x03"]);
  expect(out).toContain("CONFIRM ok=false");
  expect(out).toContain("ABORTED aborted at the prompt for X");
}, 20_000);

test.if(hasScript)("a secret typed in multibyte characters arrives whole even when its bytes come one read at a time", async () => {
  // "é€" is C3 A9 E2 82 AC: each byte is written on its own, so raw mode
  // hands every one to a separate read.
  const bytes = [...new TextEncoder().encode("é€")].map((b) => Uint8Array.of(b));
  const out = await typed(["y\n", ...bytes, "\r"]);
  expect(out).toContain("RESULT ok=true value=é€\n");
}, 30_000);
