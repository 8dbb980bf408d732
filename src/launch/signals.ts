// Signal handling for `up`. A signal during launch does not exit on the
// spot: it marks the launch aborted, the current step finishes or notices
// (waits are bounded and poll `aborted`), and the rollback stack unwinds
// everything created so far. Tests inject their own emitter.

export type Sig = "SIGINT" | "SIGTERM" | "SIGHUP";
export interface SignalSource {
  on(sig: Sig, fn: () => void): unknown;
  off(sig: Sig, fn: () => void): unknown;
}

export const SIGNAL_EXIT: Record<Sig, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export class Interrupts {
  received: Sig | null = null;
  private listeners: ((s: Sig) => void)[] = [];
  private handlers: [Sig, () => void][] = [];

  constructor(private source: SignalSource) {
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      const h = () => this.fire(sig);
      this.handlers.push([sig, h]);
      source.on(sig, h);
    }
  }

  private fire(sig: Sig): void {
    this.received ??= sig;
    for (const l of this.listeners) l(sig);
  }

  onSignal(fn: (s: Sig) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  dispose(): void {
    for (const [sig, h] of this.handlers) this.source.off(sig, h);
    this.handlers = [];
    this.listeners = [];
  }
}

export class Aborted extends Error {
  constructor(readonly signal: Sig) {
    super(`interrupted by ${signal}`);
    this.name = "Aborted";
  }
}
