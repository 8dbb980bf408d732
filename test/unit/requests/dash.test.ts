import { describe, expect, test } from "bun:test";
import { KeyReader, parseKeys } from "../../../src/dash/keys.ts";
import { blockedFrom, type Snapshot } from "../../../src/dash/model.ts";
import { initialUi, renderFrame } from "../../../src/dash/render.ts";
import { update } from "../../../src/dash/update.ts";
import type { RequestEntry } from "../../../src/requests/store.ts";

const now = new Date("2026-01-01T00:01:00Z");
const entry = (id: string, host: string, why = "j"): RequestEntry => ({
  request: { version: 1, id, slug: "claude-ab12c", kind: "egress", created_at: "2026-01-01T00:00:00.000Z", expires_at: "2026-01-01T00:10:00.000Z", justification: why, egress: { host, ports: null, methods: null, paths: null } },
  answer: null,
  status: "pending",
});
const snap = (pending: RequestEntry[]): Snapshot => ({ now, bottles: [], pending, blocked: [] });

describe("keys", () => {
  test("arrows (CSI and SS3), letters, enter, escape, backspace, ctrl-c", () => {
    expect(parseKeys("\x1b[A\x1bOBjk\r\x1b\x7f\x03")).toEqual([
      { kind: "up" },
      { kind: "down" },
      { kind: "char", ch: "j" },
      { kind: "char", ch: "k" },
      { kind: "enter" },
      { kind: "escape" },
      { kind: "backspace" },
      { kind: "interrupt" },
    ]);
    expect(parseKeys("\x1b[1;5C")).toEqual([]); // ignored sequence
  });

  test("a key split across reads is still that key (per read it was Escape, '[' and 'B')", () => {
    expect([...parseKeys("\x1b"), ...parseKeys("[B")]).toEqual([{ kind: "escape" }, { kind: "char", ch: "[" }, { kind: "char", ch: "B" }]);
    const r = new KeyReader();
    const b = (s: string) => Buffer.from(s, "latin1");
    expect(r.push(b("j\x1b"))).toEqual([{ kind: "char", ch: "j" }]);
    expect(r.waiting).toBe(true);
    expect(r.push(b("[B"))).toEqual([{ kind: "down" }]);
    expect(r.push(b("\x1bO"))).toEqual([]);
    expect(r.push(b("Ad"))).toEqual([{ kind: "up" }, { kind: "char", ch: "d" }]);
    // Parameters split from their final byte: ignored whole, no stray chars.
    expect(r.push(b("\x1b[1;"))).toEqual([]);
    expect(r.push(b("5Ck"))).toEqual([{ kind: "char", ch: "k" }]);
    expect(r.waiting).toBe(false);
    // A UTF-8 character split between reads (a note typed over ssh).
    const e = Buffer.from("é", "utf8");
    expect(r.push(e.subarray(0, 1))).toEqual([]);
    expect(r.push(e.subarray(1))).toEqual([{ kind: "char", ch: "é" }]);
  });

  test("an ESC that nothing follows is the Escape key once the reader stops waiting", () => {
    const r = new KeyReader();
    expect(r.push(Buffer.from("\x1b"))).toEqual([]);
    expect(r.flush()).toEqual([{ kind: "escape" }]);
    expect(r.waiting).toBe(false);
    expect(r.push(Buffer.from("\x1b\x1b[A"))).toEqual([{ kind: "escape" }, { kind: "up" }]);
  });
});

describe("update", () => {
  const s = snap([entry("claude-ab12c-aaaa", "a.com"), entry("claude-ab12c-bbbb", "b.com")]);
  test("selection wraps; a/d answer the selected request with its note", () => {
    let ui = initialUi();
    ui = update(ui, { kind: "up" }, s).ui;
    expect(ui.selected).toBe(1);
    ui = update(ui, { kind: "char", ch: "j" }, s).ui;
    expect(ui.selected).toBe(0);
    ui = update(ui, { kind: "char", ch: "n" }, s).ui;
    for (const ch of "hi!") ui = update(ui, { kind: "char", ch }, s).ui;
    ui = update(ui, { kind: "backspace" }, s).ui;
    // While typing, letters are text, not commands.
    const typedA = update(ui, { kind: "char", ch: "a" }, s);
    expect(typedA.action).toBeNull();
    ui = update(ui, { kind: "enter" }, s).ui;
    expect(ui.notes).toEqual({ "claude-ab12c-aaaa": "hi" });
    expect(update(ui, { kind: "char", ch: "d" }, s).action).toEqual({ kind: "answer", id: "claude-ab12c-aaaa", decision: "denied", note: "hi" });
    expect(update(ui, { kind: "char", ch: "q" }, s).action).toEqual({ kind: "quit" });
  });
  test("escape discards a note; nothing to answer without requests", () => {
    let ui = update(initialUi(), { kind: "char", ch: "n" }, s).ui;
    ui = update(ui, { kind: "char", ch: "x" }, s).ui;
    ui = update(ui, { kind: "escape" }, s).ui;
    expect(ui.notes).toEqual({});
    expect(ui.editing).toBeNull();
    expect(update(initialUi(), { kind: "char", ch: "a" }, snap([])).action).toBeNull();
  });
});

describe("render", () => {
  test("fits the width, marks the selection, defuses agent-written escapes", () => {
    const lines = renderFrame(snap([entry("claude-ab12c-aaaa", "a.com", "x\x1b]0;owned\x07" + "y".repeat(300))]), initialUi(), 80, 24, false);
    expect(lines).toHaveLength(24);
    for (const l of lines) expect([...l].length).toBe(80);
    expect(lines.join("\n")).not.toContain("\x1b");
    expect(lines.some((l) => l.startsWith("> claude-ab12c-aaaa"))).toBe(true);
    const colored = renderFrame(snap([]), initialUi(), 80, 24, true);
    expect(colored[0]).toStartWith("\x1b[7m");
  });
  test("wide characters from an agent (CJK, emoji) are measured in terminal cells: every line is exactly the screen width", () => {
    const why = "请允许访问文档站点以便阅读接口说明 👍🏽 " + "日本語".repeat(40);
    const s = snap([entry("claude-ab12c-aaaa", "docs.例え.test", why)]);
    for (const color of [false, true]) {
      const lines = renderFrame(s, initialUi(), 80, 24, color);
      expect(lines).toHaveLength(24);
      for (const l of lines) expect(Bun.stringWidth(l)).toBe(80);
    }
    const why_ = renderFrame(s, initialUi(), 80, 24, false).find((l) => l.startsWith("    why:"))!;
    expect(why_.trimEnd()).toEndWith("…"); // a wide glyph that would overhang is left out
  });
  test("blocked lines: deny only, supervise lines left out", () => {
    const rec = (decision: string, layer: string) => JSON.stringify({ time: "t", method: "GET", host: "h", port: 443, path: "/", decision, reason: "r", layer });
    expect(blockedFrom([rec("deny", "policy"), rec("allow", "policy"), rec("deny", "supervise"), "garbage"], "s")).toHaveLength(1);
  });
});
