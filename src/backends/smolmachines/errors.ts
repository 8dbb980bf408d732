// Telling smolvm's own failures apart from a guest command's exit code.
//
// smolvm prints `Error: <e>` on stderr and exits 1 for any error it returns
// (src/main.rs, end of main). `machine exec` passes the guest command's
// exit code through with std::process::exit (src/cli/machine.rs::ExecCmd::run),
// so a bare exit code 1 is ambiguous. clap argument errors exit 2 with a
// lowercase `error:` (clap's Cli::parse in src/main.rs).
//
// The rule: exit 1 whose stderr's LAST non-empty line is `Error: ` followed
// by one of the Display prefixes of smolvm's error enum (src/data/errors.rs,
// `#[error("...")]` strings) is smolvm's. For `exec -t` we capture only smolvm's stderr (the guest's
// stderr goes through the pty to stdout), so the rule is exact there. For a
// non-tty exec the guest's stderr is printed before smolvm exits
// (vm_common::print_output_and_exit), so a guest that ends with its own
// `Error: ...` line and exit 1 would be misread; `classify` callers that can
// afford it confirm with `machine status`.

export type SmolvmOutcome =
  | { kind: "ok" }
  | { kind: "guest-exit"; code: number }
  | { kind: "smolvm-error"; message: string }
  | { kind: "usage-error"; message: string };

export function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  return lines.length > 0 ? (lines[lines.length - 1] as string) : "";
}

// The fixed start of every `#[error("...")]` of smolvm::Error (src/data/errors.rs).
export const SMOLVM_ERROR_PREFIXES = [
  "agent operation failed: ",
  "command '",
  "config operation failed: ",
  "database not available: ",
  "database operation failed: ",
  "disk not found: ",
  "hypervisor not available: ",
  "invalid mount path: ",
  "invalid vm state: ",
  "io operation failed: ",
  "kvm not available: ",
  "kvm permission denied: ",
  "mount operation failed: ",
  "mount source not found: ",
  "rootfs not found: ",
  "rootfs operation failed: ",
  "storage operation failed: ",
  "vm creation failed: ",
  "vm not found: ",
] as const;

export function isSmolvmErrorLine(line: string): boolean {
  if (!line.startsWith("Error: ")) return false;
  const msg = line.slice(7);
  return SMOLVM_ERROR_PREFIXES.some((p) => msg.startsWith(p));
}

export function classifyExit(code: number, stderr: string): SmolvmOutcome {
  if (code === 0) return { kind: "ok" };
  const last = lastLine(stderr);
  if (code === 1 && isSmolvmErrorLine(last)) return { kind: "smolvm-error", message: last.slice(7).trim() };
  if (code === 2 && /^error: /m.test(stderr)) {
    const line = stderr.split(/\r?\n/).find((l) => l.startsWith("error: ")) ?? "error: usage";
    return { kind: "usage-error", message: line.slice(7).trim() };
  }
  return { kind: "guest-exit", code };
}

// A smolvm "not found" for a machine: `vm not found: NAME` (Error::VmNotFound,
// src/data/errors.rs) or `machine 'NAME' not found` (status_vm_json,
// ensure_running_and_connect in src/cli/vm_common.rs).
export function isNotFound(message: string): boolean {
  return /\bvm not found\b/.test(message) || /machine '[^']*' not found/.test(message);
}

// `machine 'NAME' is not running. Use 'smolvm machine start --name NAME' first.`
// (vm_common::ensure_running_and_connect).
export function isNotRunning(message: string): boolean {
  return /is not running/.test(message);
}
