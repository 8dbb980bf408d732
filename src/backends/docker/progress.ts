import { setStatusLine } from "../../ui/status-line.ts";
import { truncate } from "../../ui/table.ts";

// Step-wise progress for slow work (image builds): a spinner on a terminal,
// plain lines otherwise (logs, CI), so piped output stays readable.

export interface Steps {
  step(text: string): void; // a new step; on a tty the previous one is finished
  detail(text: string): void; // live detail for the current step (tty only)
  done(): void;
}

const FRAMES = ["|", "/", "-", "\\"];

export function createSteps(opts: { tty: boolean; line: (s: string) => void; write?: (s: string) => void }): Steps {
  if (!opts.tty) {
    return { step: (t) => opts.line(t), detail: () => {}, done: () => {} };
  }
  const write = opts.write ?? ((s: string) => void process.stderr.write(s));
  let current: string | null = null;
  let extra = "";
  let frame = 0;
  let timer: ReturnType<typeof setInterval> | null = null;
  const width = () => Math.max(20, (process.stderr.columns ?? 80) - 1);
  const draw = () => {
    if (current === null) return;
    const text = `${FRAMES[frame++ % FRAMES.length]} ${current}${extra ? `: ${extra}` : ""}`;
    // Cut in terminal cells: a line that wraps would leave the spinner's
    // earlier frames on screen. \r + erase-line is the cursor control a
    // spinner needs (only ever written to a terminal).
    write(`\r\x1b[2K${truncate(text, width())}`);
  };
  const finish = () => {
    if (current === null) return;
    write("\r\x1b[2K");
    setStatusLine(null);
    opts.line(current);
    current = null;
    extra = "";
  };
  return {
    step(text) {
      finish();
      current = text;
      // Lines others print meanwhile (ui/status-line.ts writeAbove) go above.
      setStatusLine({ clear: () => write("\r\x1b[2K"), redraw: draw });
      draw();
      timer ??= setInterval(draw, 100);
    },
    detail(text) {
      extra = text;
      draw();
    },
    done() {
      finish();
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
