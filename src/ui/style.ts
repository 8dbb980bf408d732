import { styleText } from "node:util";

// Colour through node:util styleText, never hand-written escape codes. The
// decision whether a stream may be coloured is styleText's own (NO_COLOR,
// FORCE_COLOR, TERM=dumb, a terminal or not), made once by the command;
// formatting functions take it as a boolean so they stay pure and testable.

export type Style = Parameters<typeof styleText>[0];

export function colorsFor(stream: NodeJS.WriteStream = process.stdout): boolean {
  return styleText("bold", "x", { stream }) !== "x";
}

export function paint(on: boolean, style: Style, text: string): string {
  return on ? styleText(style, text, { validateStream: false }) : text;
}
