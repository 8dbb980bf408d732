import { expect, test } from "bun:test";
import { captureCapped, readCapped } from "../../../src/backends/capture.ts";

// Real processes: what a command prints is read up to a bound; past it the
// command is killed and the capture throws one line.
const spawn = (script: string) => Bun.spawn(["sh", "-c", script], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });

test("a command within the bounds: its exit code and both streams, whole", async () => {
  const c = await captureCapped(spawn("printf 'out\\n'; printf 'err\\n' >&2; exit 3"), "t", { maxStdout: 16, maxStderr: 16 });
  expect(c).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" });
});

test("exactly at the bound is within it", async () => {
  const c = await captureCapped(spawn("head -c 65536 /dev/zero | tr '\\0' a"), "t", { maxStdout: 65536 });
  expect(c.stdout.length).toBe(65536);
});

test("stdout without end: killed, one line naming the command and the bound", async () => {
  const p = spawn("yes");
  const t0 = Date.now();
  await expect(captureCapped(p, "docker exec", { maxStdout: 1024 * 1024 })).rejects.toThrow("docker exec printed more than 1 MiB on stdout; it was stopped");
  expect(p.signalCode).toBe("SIGKILL");
  expect(Date.now() - t0).toBeLessThan(10_000);
});

test("stderr without end: the same", async () => {
  const p = spawn("yes >&2");
  await expect(captureCapped(p, "smolvm exec", { maxStderr: 2 * 1024 * 1024 })).rejects.toThrow("smolvm exec printed more than 2 MiB on stderr; it was stopped");
  expect(p.signalCode).toBe("SIGKILL");
});

test("readCapped: the first bytes up to the bound, and whether more came", async () => {
  const r = await readCapped(new Blob(["abcdef"]).stream(), 4);
  expect({ text: Buffer.from(r.bytes).toString(), over: r.over }).toEqual({ text: "abcd", over: true });
  const w = await readCapped(new Blob(["abc"]).stream(), 4);
  expect({ text: Buffer.from(w.bytes).toString(), over: w.over }).toEqual({ text: "abc", over: false });
});
