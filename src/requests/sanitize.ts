// Request fields are written by the agent. Before any of them reaches the
// operator's terminal (`requests`, `dash`), control characters go: an escape
// sequence in a "justification" could otherwise move the cursor, rewrite
// what the operator sees on screen, retitle the window or worse. Bidi
// overrides go too, so a host name cannot be shown reversed.

// C0 (except tab/newline), DEL, C1, and the Unicode bidi controls.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function clean(s: string): string {
  return s.replace(CONTROL, "\uFFFD");
}

// One line: newlines and tabs become spaces as well.
export function cleanLine(s: string): string {
  return clean(s).replace(/[\t\n]+/g, " ");
}
