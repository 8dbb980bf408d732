import { UserError } from "../errors.ts";
import type { Captured } from "./types.ts";

// Reading what a command printed, with a bound. A command run in a bottle
// (Bottle.run) prints what the bottle chooses: after the agent has had the
// bottle, a git filter, fsmonitor hook or process of its own can write to
// the exec's stdout or stderr without end, and reading it all into a string
// would let the bottle fill the host's memory. So each stream is read up to
// its limit; past it the command is killed and the run fails with one line.

export const RUN_MAX_STDOUT = 64 * 1024 * 1024;
export const RUN_MAX_STDERR = 4 * 1024 * 1024;

export interface Capping {
  maxStdout?: number;
  maxStderr?: number;
}

interface Child {
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  exited: Promise<number>;
  kill(signal?: number | NodeJS.Signals): void;
}

// Reads a stream to its end, or until more than `max` bytes came (then
// `over`, and the first `max` bytes). `onOver` runs before the stream is
// let go: a writer killed then dies of the kill, not of a closed pipe.
export async function readCapped(stream: ReadableStream<Uint8Array>, max: number, onOver: () => void = () => {}): Promise<{ bytes: Uint8Array; over: boolean }> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let seen = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value.length;
      parts.push(value);
      if (seen > max) {
        onOver();
        return { bytes: Buffer.concat(parts).subarray(0, max), over: true };
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return { bytes: Buffer.concat(parts), over: false };
}

// A child's stdout and stderr, each up to its limit, and its exit code. A
// stream past its limit kills the child and throws (`what` names the command
// for the message).
export async function captureCapped(p: Child, what: string, limits: Capping = {}): Promise<Captured> {
  const maxOut = limits.maxStdout ?? RUN_MAX_STDOUT;
  const maxErr = limits.maxStderr ?? RUN_MAX_STDERR;
  let over: "stdout" | "stderr" | null = null;
  const watch = async (s: ReadableStream<Uint8Array>, max: number, name: "stdout" | "stderr") => {
    const r = await readCapped(s, max, () => {
      if (over !== null) return;
      over = name;
      p.kill("SIGKILL");
    });
    return r.bytes;
  };
  const [out, err, code] = await Promise.all([watch(p.stdout, maxOut, "stdout"), watch(p.stderr, maxErr, "stderr"), p.exited]);
  if (over !== null) {
    const max = over === "stdout" ? maxOut : maxErr;
    throw new UserError(`${what} printed more than ${Math.round(max / (1024 * 1024))} MiB on ${over}; it was stopped`);
  }
  const dec = new TextDecoder();
  return { code, stdout: dec.decode(out), stderr: dec.decode(err) };
}
