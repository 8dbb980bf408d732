import { describe, expect, test } from "bun:test";
import { paint } from "../../../src/ui/style.ts";
import { cells, fit, padEnd, table, truncate } from "../../../src/ui/table.ts";

// Where each of the given cells starts, in terminal cells, for every line
// (searched left to right, each after the previous one).
function starts(lines: string[], cellsOfRow: string[][]): number[][] {
  return lines.map((l, i) => {
    let from = 0;
    return cellsOfRow[i]!.map((c) => {
      const at = l.indexOf(c, from);
      from = at + c.length;
      return cells(l.slice(0, at));
    });
  });
}

describe("table", () => {
  test("columns line up in terminal cells with CJK, emoji (with a modifier), combining marks and colour", () => {
    const rows = [
      ["NAME", "KIND", "NOTE"],
      ["名前テスト", "wide", "a"],
      ["👍🏽ok", "emoji", "b"],
      ["e\u0301te\u0301", "combining", "c"],
      [paint(true, "red", "red"), "colour", "d"],
    ];
    const lines = table(rows);
    // Column 2 and 3 start at the same cell on every line.
    const at = starts(lines, rows.map((r) => [r[0]!, r[1]!, r[2]!]).map(([a, b, c]) => [a!, ` ${b}`, ` ${c}`]));
    for (const a of at) expect(a).toEqual(at[0]!);
    expect(at[0]).toEqual([0, 11, 22]); // "名前テスト" is 10 cells, then the gap (found from its last blank)
    expect(lines[1]).toBe("名前テスト  wide       a");
  });

  test("right alignment, the last column unpadded, no trailing blanks, a rule under the head", () => {
    const lines = table(
      [
        ["A", "N", "Z"],
        ["日本", "7", ""],
        ["x", "12345", ""],
      ],
      { columns: [{}, { align: "right" }], rule: true },
    );
    expect(lines).toEqual(["A         N  Z", "----  -----  -", "日本      7", "x     12345"]);
  });

  test("max cuts by cells and never splits a character; style applies after the cut", () => {
    const lines = table([["漢字漢字漢字", "x"]], { columns: [{ max: 7, style: (t) => `<${t}>` }] });
    expect(lines).toEqual(["<漢字漢…>  x"]);
  });
});

test("truncate, fit and padEnd count cells", () => {
  expect(truncate("abcdef", 4)).toBe("abc…");
  expect(truncate("日本語", 4)).toBe("日…");
  expect(truncate("日本語", 6)).toBe("日本語");
  expect(truncate("👍🏽👍🏽", 3)).toBe("👍🏽…");
  expect(cells(fit("日本語です", 7))).toBe(7);
  expect(fit("日本語です", 7)).toBe("日本語…");
  expect(padEnd("日本", 6)).toBe("日本  ");
  expect(cells(padEnd(paint(true, "bold", "ab"), 4))).toBe(4);
});
