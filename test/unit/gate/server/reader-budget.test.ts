import { afterEach, expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import { readerBytesHeld, setReaderBudget, SocketReader } from "../../../../src/gate/io.ts";
import { DEFAULT_LIMITS } from "../../../../src/gate/context.ts";

// The readers' global budget (io.ts): what all readers queue is counted in
// one ledger; past the budget a socket whose handler is not waiting is
// paused, and a handler that waits still gets its data. A PassThrough
// stands in for the socket: same pause/resume/isPaused and 'data' events.

afterEach(() => setReaderBudget(DEFAULT_LIMITS.readBufferBudgetBytes));

const KB = 1024;
const chunk = (n: number) => Buffer.alloc(n, 0x61);

test("past the budget, every reader whose handler is busy is paused; one that waits still reads", async () => {
  const base = readerBytesHeld();
  setReaderBudget(base + 200 * KB);
  const socks = [new PassThrough(), new PassThrough(), new PassThrough()];
  const readers = socks.map((s) => new SocketReader(s));
  // Under the budget: data flows into the queues (no handler reads yet).
  socks[0]!.write(chunk(90 * KB));
  socks[1]!.write(chunk(90 * KB));
  await Bun.sleep(0);
  expect(readerBytesHeld() - base).toBe(180 * KB);
  expect(socks.map((s) => s.isPaused())).toEqual([false, false, false]);

  // A handler waits on the third; the second crosses the budget.
  const waiting = readers[2]!.read();
  socks[1]!.write(chunk(30 * KB));
  await Bun.sleep(0);
  expect(readerBytesHeld() - base).toBe(210 * KB);
  expect(socks[0]!.isPaused()).toBe(true);
  expect(socks[1]!.isPaused()).toBe(true);
  // The waiting one is not starved.
  expect(socks[2]!.isPaused()).toBe(false);
  socks[2]!.write(chunk(5 * KB));
  expect((await waiting)!.length).toBe(5 * KB);

  // Reading a queue down gives its bytes back; under the budget again, the
  // reader resumes its socket once its own queue is small.
  expect((await readers[0]!.read())!.length).toBe(90 * KB);
  expect(readerBytesHeld() - base).toBe(120 * KB);
  expect(socks[0]!.isPaused()).toBe(false);
  // Detaching hands the rest over and uncounts it.
  expect(readers[1]!.detach().length).toBe(120 * KB);
  expect(readerBytesHeld() - base).toBe(0);
  for (const s of socks) s.destroy();
});

test("a busy reader never queues past its own high-water mark, budget or not", async () => {
  const s = new PassThrough();
  const r = new SocketReader(s);
  for (let i = 0; i < 4; i++) s.write(chunk(100 * KB));
  await Bun.sleep(0);
  expect(s.isPaused()).toBe(true);
  let got = 0;
  while (got < 400 * KB) got += (await r.read())!.length;
  expect(got).toBe(400 * KB);
  s.destroy();
});

test("readers dropped with bytes queued give them back when they are collected", async () => {
  // Collection is the engine's to schedule, and JavaScriptCore scans the
  // stack conservatively: a stale word can keep one object alive for a
  // while. So the readers are made in a task of their own (nothing of
  // them left on this stack), ten of them, and the proof is that the
  // finalizer gave back their bytes: all but at most one reader's worth.
  const N = 10;
  const base = readerBytesHeld();
  await new Promise<void>((done) =>
    setTimeout(() => {
      for (let i = 0; i < N; i++) {
        const s = new PassThrough();
        new SocketReader(s);
        s.write(chunk(64 * KB));
        s.destroy();
      }
      done();
    }, 0),
  );
  await Bun.sleep(0);
  expect(readerBytesHeld() - base).toBe(N * 64 * KB);
  for (let i = 0; i < 100 && readerBytesHeld() - base > 0; i++) {
    Bun.gc(true);
    await Bun.sleep(10);
  }
  expect(readerBytesHeld() - base).toBeLessThanOrEqual(64 * KB);
});
