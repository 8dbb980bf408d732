import { expect, test } from "bun:test";
import { RollbackStack } from "../../../src/launch/rollback.ts";

test("unwinds newest first and keeps going past a failing undo", async () => {
  const s = new RollbackStack();
  const order: string[] = [];
  s.push("a", () => void order.push("a"));
  s.push("b", () => {
    order.push("b");
    throw new Error("b broke");
  });
  s.push("c", async () => {
    await Bun.sleep(5);
    order.push("c");
  });
  const failures = await s.unwind();
  expect(order).toEqual(["c", "b", "a"]);
  expect(failures.map((f) => f.name)).toEqual(["b"]);
  expect(s.size).toBe(0);
});

test("concurrent unwinds run each undo once", async () => {
  const s = new RollbackStack();
  let n = 0;
  s.push("x", async () => {
    await Bun.sleep(10);
    n++;
  });
  await Promise.all([s.unwind(), s.unwind()]);
  expect(n).toBe(1);
  expect(() => s.push("late", () => {})).toThrow(/unwinding/);
});

test("commit forgets the undos (resources outlive the process)", async () => {
  const s = new RollbackStack();
  let ran = false;
  s.push("x", () => {
    ran = true;
  });
  s.commit();
  await s.unwind();
  expect(ran).toBe(false);
});
