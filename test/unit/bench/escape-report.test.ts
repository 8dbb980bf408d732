import { describe, expect, test } from "bun:test";
import { renderMarkdown, renderText, summaryLine, tally, type Cell, type Row } from "../../../bench/lib/escape/report.ts";

// bench:escape's counting: blocked of applicable per side; n/a is never a
// block and never applicable; an attack that did not run is applicable and
// not blocked; controls are not counted but must get through.

const c = (mark: Cell["mark"], detail: string = mark): Cell => ({ mark, detail });
const row = (id: string, bottle: Cell, srt: Cell, masked: Cell, control = false): Row => ({ id, title: id, control, cells: { bottle, srt, srt_masked: masked } });

const rows: Row[] = [
  row("0.control-https", c("THROUGH"), c("THROUGH"), c("blocked", "did not get through"), true),
  row("1.https-host", c("blocked"), c("blocked"), c("blocked")),
  row("3.query-base64", c("blocked"), c("THROUGH", "upstream allowed received TEST_SECRET_AWS"), c("blocked")),
  row("5.git-push-x", c("blocked"), c("n/a", "no git gate"), c("n/a", "no git gate")),
  row("6.tcp-eth0", c("FAIL", "blocked by gate-policy, expected sealed-network"), c("NOT RUN", "did not run: missing socat"), c("blocked")),
  row("10.gate-restarted", c("THROUGH"), c("n/a"), c("n/a"), true),
];

describe("bench:escape report", () => {
  test("blocked of applicable, per side; n/a out, NOT RUN and FAIL in but not blocked", () => {
    expect(tally(rows, "bottle")).toEqual({ blocked: 3, applicable: 4, notRun: 0, controlsFailed: [] });
    expect(tally(rows, "srt")).toEqual({ blocked: 1, applicable: 3, notRun: 1, controlsFailed: [] });
    expect(tally(rows, "srt_masked")).toEqual({ blocked: 3, applicable: 3, notRun: 0, controlsFailed: ["0.control-https: did not get through"] });
    expect(summaryLine(rows)).toBe("escape: bottle=3/4 srt=1/3 srt_masked=3/3");
  });

  test("the evidence column names what got through, on which side", () => {
    const text = renderText(rows, 200);
    const line = text.split("\n").find((l) => l.startsWith("3.query-base64"))!;
    expect(line).toMatch(/blocked\s+THROUGH\s+blocked\s+srt: upstream allowed received TEST_SECRET_AWS/);
    expect(renderMarkdown(rows)).toContain("| `6.tcp-eth0` 6.tcp-eth0 | FAIL | NOT RUN | blocked | bottle: blocked by gate-policy, expected sealed-network; srt: did not run: missing socat |");
  });
});
