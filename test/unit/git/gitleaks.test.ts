import { describe, expect, test } from "bun:test";
import {
  chooseInvocation,
  FINDINGS_EXIT,
  gitleaksArgs,
  gitleaksEnv,
  gitleaksError,
  parseGitleaksReport,
} from "../../../src/git/gitleaks.ts";

// `detect --help` of the real 8.16.0 binary (trimmed), and of HEAD's `git`.
const HELP_816 = `detect secrets in code

Usage:
  gitleaks detect [flags]

Flags:
      --follow-symlinks   scan files that are symlinks to other files
      --log-opts string   git log options
      --no-git            treat git repo as a regular directory
`;
const HELP_GIT = `${HELP_816.replace("gitleaks detect", "gitleaks git [flags] [repo]")}      --ignore-gitleaks-allow   ignore gitleaks:allow comments\n`;

describe("gitleaks invocation", () => {
  test("8.16: detect, no flag it does not know", () => {
    const inv = chooseInvocation(HELP_816, null);
    expect(inv).toEqual({ command: "detect", ignoreAllow: false });
    expect(gitleaksArgs(inv!, "/m/o.git", "/tmp/r.json", ["a1", "b2"])).toEqual([
      "detect", "--source", "/m/o.git", "--no-banner", "--redact",
      "--exit-code", String(FINDINGS_EXIT), "--report-format", "json", "--report-path", "/tmp/r.json",
      "--log-opts=a1 b2 --not --all",
    ]);
  });

  test("without detect: `git` with the repository last, and --ignore-gitleaks-allow when listed", () => {
    const inv = chooseInvocation(null, HELP_GIT);
    expect(inv).toEqual({ command: "git", ignoreAllow: true });
    const args = gitleaksArgs(inv!, "/m/o.git", "/tmp/r.json", ["a1"]);
    expect(args[0]).toBe("git");
    expect(args).not.toContain("--source");
    expect(args.slice(-2)).toEqual(["--ignore-gitleaks-allow", "/m/o.git"]);
  });

  test("neither command with --log-opts: no invocation", () => {
    expect(chooseInvocation(null, null)).toBeNull();
    expect(chooseInvocation("Usage: gitleaks detect", "Usage: gitleaks git")).toBeNull();
  });

  test("environment: no claude-bottle secrets, no git tracing; the quarantine stays", () => {
    const env = gitleaksEnv({
      PATH: "/usr/bin",
      GIT_OBJECT_DIRECTORY: "/q",
      GIT_ALTERNATE_OBJECT_DIRECTORIES: "/o",
      GITLEAKS_CONFIG: "/c.toml",
      CLAUDE_BOTTLE_GIT_TOKEN: "t",
      CLAUDE_BOTTLE_GIT_DLP: "{}",
      GIT_TRACE: "1",
      GIT_TRACE2_EVENT: "/x",
      GIT_CURL_VERBOSE: "1",
    });
    expect(env).toEqual({ PATH: "/usr/bin", GIT_OBJECT_DIRECTORY: "/q", GIT_ALTERNATE_OBJECT_DIRECTORIES: "/o", GITLEAKS_CONFIG: "/c.toml" });
  });
});

describe("gitleaks output", () => {
  test("the first ERR line of its log, without colours", () => {
    const stderr = [
      "\x1b[90m10:27PM\x1b[0m \x1b[32mINF\x1b[0m 0 commits scanned.",
      "\x1b[90m10:27PM\x1b[0m \x1b[1m\x1b[31mERR\x1b[0m\x1b[0m [git] fatal: bad object deadbeef",
      "\x1b[90m10:27PM\x1b[0m \x1b[31mWRN\x1b[0m no leaks found in partial scan",
    ].join("\n");
    expect(gitleaksError(stderr)).toBe("[git] fatal: bad object deadbeef");
    expect(gitleaksError("Error: unknown flag: --x\n")).toBe("Error: unknown flag: --x");
    expect(gitleaksError("")).toBe("no message");
  });

  test("report: rule, file and commit, never Secret or Match; names made printable", () => {
    const f = parseGitleaksReport(
      JSON.stringify([
        { RuleID: "generic-api-key", File: "a\nremote: fake.txt", Commit: "abc", Secret: "s3cr3t-value", Match: "k = s3cr3t-value" },
        { RuleID: "x", File: "", Commit: "def" },
      ]),
    );
    expect(f).toEqual([
      { rule: "gitleaks:generic-api-key", file: "a?remote: fake.txt", commit: "abc" },
      { rule: "gitleaks:x", file: "(unknown)", commit: "def" },
    ]);
    expect(JSON.stringify(f)).not.toContain("s3cr3t");
    expect(() => parseGitleaksReport('{"not":"an array"}')).toThrow();
    expect(parseGitleaksReport("")).toEqual([]);
  });
});
