// The last non-empty line of a child's stderr: what an error message quotes.
export function lastLine(s: string): string | undefined {
  return s.trim().split("\n").at(-1) || undefined;
}
