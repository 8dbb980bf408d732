import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PushFinding } from "./scan.ts";

// gitleaks, when it is installed on the host, as a second opinion on the same
// commits. Optional by design (principle 6: git and a backend are the only
// requirements), but once it is on the gate's PATH it is trusted: a push
// passes only if gitleaks ran to the end and found nothing. Any failure of
// gitleaks itself refuses the push (fail closed).
//
// The command line, checked against the real program (Debian trixie's
// 8.16.0 binary, scripts/ci/install-gitleaks.sh) and gitleaks' source
// (github.com/gitleaks/gitleaks):
// - `detect --source <dir> --log-opts <range>` scans `git -C <dir> log -p -U0
//   <range>` (v8.16.0 detect/git/git.go GitLog; HEAD sources/git.go
//   NewGitLogCmdContext). Both split --log-opts on single spaces, so the
//   range is plain oids joined by " ". It works on a bare repository.
// - `detect` was deprecated and hidden in v8.19.0 (commit 44ad62e0, "Deprecate
//   `detect` and `protect`. Add `git`, `dir`, `stdin`", cmd/detect.go
//   `Hidden: true`), and is still there at HEAD with --source and --log-opts.
//   Because it is hidden, `gitleaks --help` does not list it: we probe
//   `gitleaks detect --help` instead (an unknown command exits 1 with
//   `unknown command "detect"`), and fall back to `gitleaks git [flags] <dir>`
//   (cmd/git.go: the repository is a positional argument) should a future
//   release drop `detect`.
// - --redact, --no-banner, --exit-code, --report-format, --report-path are
//   root flags in every 8.x (cmd/root.go). --redact became a uint with
//   NoOptDefVal "100" in 8.18 (bare --redact still means "all of it"). An
//   unknown flag exits 126 (cmd/root.go Execute), so nothing newer than 8.16
//   is passed unless `--help` lists it: --ignore-gitleaks-allow (8.18+,
//   commit 0d5e46fe) stops a `gitleaks:allow` comment in the pushed line from
//   hiding a finding. 8.16 has no way to turn that off; our own DLP scan,
//   which runs first, does not honour such comments.
// - Exit status (v8.16.0 cmd/detect.go runDetect; HEAD cmd/root.go
//   findingSummaryAndExit): any error, including a git error, exits 1 after a
//   "partial scan"; log.Fatal exits 1; findings exit with --exit-code. We
//   pass a code of our own so findings and errors cannot be confused.
// - Any line git prints on stderr during `git log` counts as a git error
//   (listenForStdErr, both versions), except rename-limit warnings. So
//   GIT_TRACE* and GIT_CURL_VERBOSE, which the gate may run with, must not
//   reach it: with GIT_TRACE=1 real gitleaks failed every push.
// - The JSON report is an array of report.Finding: RuleID, File, Commit, ...
//   plus Secret, Match and Line, which hold the secret itself (Redact()
//   replaces it with "REDACTED", Line is never serialised). We read only
//   RuleID, File and Commit.

export const FINDINGS_EXIT = 40;
// gitleaks 8.16 scans about 9 MB/s here: a 200 MB commit (the one
// test/integration/git/large-push.test.ts builds) takes it 20-25 s on 2
// cores (37 s CPU; peak RSS 120 MB, growing with the push). Five minutes
// leaves room for pushes ten times that size.
export const GITLEAKS_TIMEOUT_MS = 5 * 60_000;
const PROBE_TIMEOUT_MS = 30_000;

export function gitleaksPath(path: string | undefined = process.env.PATH): string | null {
  return Bun.which("gitleaks", { PATH: path ?? "" });
}

export interface GitleaksInvocation {
  command: "detect" | "git";
  ignoreAllow: boolean;
}

// From the output of `gitleaks detect --help` and, only if that failed,
// `gitleaks git --help` (null: the command does not exist).
export function chooseInvocation(detectHelp: string | null, gitHelp: string | null): GitleaksInvocation | null {
  for (const [command, help] of [["detect", detectHelp], ["git", gitHelp]] as const) {
    if (help === null || !help.includes("--log-opts")) continue;
    return { command, ignoreAllow: help.includes("--ignore-gitleaks-allow") };
  }
  return null;
}

export function gitleaksArgs(inv: GitleaksInvocation, gitDir: string, report: string, newOids: readonly string[]): string[] {
  return [
    inv.command,
    ...(inv.command === "detect" ? ["--source", gitDir] : []),
    "--no-banner", "--redact",
    "--exit-code", String(FINDINGS_EXIT),
    "--report-format", "json", "--report-path", report,
    `--log-opts=${[...newOids, "--not", "--all"].join(" ")}`,
    ...(inv.ignoreAllow ? ["--ignore-gitleaks-allow"] : []),
    ...(inv.command === "git" ? [gitDir] : []),
  ];
}

// The hook's environment minus what gitleaks must not see: our own
// configuration (the DLP secrets, the upstream token) and git's tracing,
// which gitleaks would take for a git error.
export function gitleaksEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith("CLAUDE_BOTTLE_") || k.startsWith("GIT_TRACE") || k === "GIT_CURL_VERBOSE") continue;
    out[k] = v;
  }
  return out;
}

// One printable line, for a "remote:" message: no terminal escapes, no
// control characters (a file name is the pusher's to choose), bounded.
export function printable(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/[\x00-\x1f\x7f-\x9f]/g, "?").trim();
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

// gitleaks logs with zerolog's console writer ("10:27PM ERR [git] fatal:
// bad object ..."), coloured even into a pipe. The first ERR/FTL line says
// what went wrong; the last lines are only "partial scan completed".
export function gitleaksError(stderr: string): string {
  const lines = stderr.split("\n").map((l) => printable(l, 1000)).filter(Boolean);
  for (const l of lines) {
    const m = /^(?:\S+\s+)?(?:ERR|FTL)\s+(.*)$/.exec(l);
    if (m?.[1]) return printable(m[1]);
  }
  return printable(lines.at(-1) ?? "no message");
}

// Its JSON report: an array of findings with RuleID, File, Commit, ... Only
// those three are read: Secret and Match carry the secret (redacted with
// --redact, but never printed either way).
export function parseGitleaksReport(json: string): PushFinding[] {
  const data: unknown = JSON.parse(json || "[]");
  if (!Array.isArray(data)) throw new Error("the report is not a JSON array");
  return data.map((f: Record<string, unknown>) => ({
    rule: `gitleaks:${printable(String(f.RuleID ?? "unknown"), 80)}`,
    commit: printable(String(f.Commit ?? ""), 64),
    file: typeof f.File === "string" && f.File !== "" ? printable(f.File) : "(unknown)",
  }));
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

async function run(argv: string[], cwd: string, env: Record<string, string>, timeoutMs: number): Promise<Ran> {
  const proc = Bun.spawn(argv, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const done = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const r = await Promise.race([done, late]);
    if (r === "timeout") {
      // Not waiting for its output: a child it left behind may hold the
      // pipes open for a long time.
      proc.kill("SIGKILL");
      return { code: null, stdout: "", stderr: "", timedOut: true };
    }
    const [stdout, stderr, code] = r;
    return { code: proc.signalCode ? null : code, stdout, stderr, timedOut: false };
  } finally {
    clearTimeout(timer);
  }
}

export type GitleaksResult = { ok: true; findings: PushFinding[] } | { ok: false; error: string };

export async function runGitleaks(opts: {
  bin: string;
  gitDir: string;
  env: Record<string, string>;
  newOids: readonly string[];
  timeoutMs?: number;
}): Promise<GitleaksResult> {
  if (opts.newOids.length === 0) return { ok: true, findings: [] };
  const env = gitleaksEnv(opts.env);
  const fail = (why: string): GitleaksResult => ({ ok: false, error: `gitleaks (${opts.bin}) ${why}` });

  const help = async (command: string): Promise<string | null> => {
    const r = await run([opts.bin, command, "--help"], opts.gitDir, env, PROBE_TIMEOUT_MS);
    return r.code === 0 ? r.stdout + r.stderr : null;
  };
  const detectHelp = await help("detect");
  const inv = chooseInvocation(detectHelp, detectHelp === null ? await help("git") : null);
  if (!inv) return fail("has neither a `detect` nor a `git` command with --log-opts; install gitleaks 8.x or take it off the gate's PATH");

  const timeoutMs = opts.timeoutMs ?? GITLEAKS_TIMEOUT_MS;
  const dir = mkdtempSync(join(tmpdir(), "claude-bottle-gitleaks-"));
  const report = join(dir, "report.json");
  try {
    const r = await run([opts.bin, ...gitleaksArgs(inv, opts.gitDir, report, opts.newOids)], opts.gitDir, env, timeoutMs);
    if (r.timedOut) return fail(`did not finish within ${timeoutMs / 1000} s`);
    if (r.code !== 0 && r.code !== FINDINGS_EXIT) {
      return fail(`failed (${r.code === null ? "killed" : `exit ${r.code}`}): ${gitleaksError(r.stderr)}`);
    }
    let findings: PushFinding[];
    try {
      findings = parseGitleaksReport(readFileSync(report, "utf8"));
    } catch (e) {
      return fail(`left no readable report (${printable(e instanceof Error ? e.message : String(e), 120)})`);
    }
    // Exit status and report must agree; if they do not, trust neither.
    if (r.code === FINDINGS_EXIT && findings.length === 0) return fail(`reported leaks (exit ${FINDINGS_EXIT}) but its report lists none`);
    return { ok: true, findings };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
