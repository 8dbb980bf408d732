import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PushFinding } from "./scan.ts";

// gitleaks, when it is installed on the host, as a second opinion on the same
// commits. Optional by design (principle 6: git and a backend are the only
// requirements). Run with --redact so even its report never holds a secret.

export function gitleaksPath(path: string | undefined = process.env.PATH): string | null {
  return Bun.which("gitleaks", { PATH: path ?? "" });
}

// Its JSON report: an array of findings with RuleID, File, Commit, ...
export function parseGitleaksReport(json: string): PushFinding[] {
  const data: unknown = JSON.parse(json || "[]");
  if (!Array.isArray(data)) return [];
  return data.map((f: Record<string, unknown>) => ({
    rule: `gitleaks:${String(f.RuleID ?? "unknown")}`,
    commit: String(f.Commit ?? ""),
    file: typeof f.File === "string" ? f.File : null,
  }));
}

export async function runGitleaks(opts: {
  bin: string;
  gitDir: string;
  env: Record<string, string>;
  newOids: readonly string[];
}): Promise<PushFinding[]> {
  if (opts.newOids.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), "claude-bottle-gitleaks-"));
  const report = join(dir, "report.json");
  try {
    // `detect` still exists in gitleaks 8.x (hidden alias of `git`), and
    // --log-opts is appended to its `git log -p`: same commit range as ours.
    const proc = Bun.spawn(
      [
        opts.bin, "detect", "--source", opts.gitDir, "--no-banner", "--redact",
        "--exit-code", "0",
        "--report-format", "json", "--report-path", report,
        `--log-opts=${[...opts.newOids, "--not", "--all"].join(" ")}`,
      ],
      { cwd: opts.gitDir, env: opts.env, stdin: "ignore", stdout: "ignore", stderr: "pipe" },
    );
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    if (code !== 0) throw new Error(`gitleaks failed (exit ${code}): ${stderr.trim().split("\n").pop() ?? ""}`);
    return parseGitleaksReport(readFileSync(report, "utf8"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
