/**
 * Progress of a long job (simulation, training, sampling), and a one-line renderer for a
 * terminal: the CLI draws it on stderr when stderr is a TTY and stays silent otherwise, so
 * piped output and logs never fill with carriage returns.
 */

export type ProgressPhase = 'simulate' | 'train' | 'sample';

export interface ProgressEvent {
  phase: ProgressPhase;
  /** Sequential methods: the round, 1-based (1 for single-round methods). */
  round: number;
  rounds: number;
  /** Units done (epochs, sweeps, simulations) and the total when it is known. */
  done: number;
  total?: number;
  /** A short status, e.g. the losses of the last epoch. */
  detail?: string;
}

export type ProgressCallback = (event: ProgressEvent) => void;

const BAR_WIDTH = 24;

/** The status line for an event, e.g. `[round 1/2] train  epoch 37  loss 1.2031 / 1.2455`. */
export function formatProgress(e: ProgressEvent): string {
  const round = e.rounds > 1 ? `[round ${e.round}/${e.rounds}] ` : '';
  let body: string;
  if (e.total !== undefined && e.total > 0) {
    const frac = Math.min(1, e.done / e.total);
    const filled = Math.round(frac * BAR_WIDTH);
    body = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${e.done}/${e.total}`;
  } else {
    body = `${e.done}`;
  }
  const unit = e.phase === 'train' ? 'epoch ' : '';
  return `${round}${e.phase.padEnd(8)} ${unit}${body}${e.detail ? `  ${e.detail}` : ''}`;
}

/** Draws events on a TTY stream, redrawing at most every `intervalMs`; `end()` finishes the line. */
export class ProgressLine {
  private last = 0;
  private pending: ProgressEvent | undefined;
  private width = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly intervalMs = 100) {}

  /** Whether the stream is a terminal (only then does the line draw). */
  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  readonly update: ProgressCallback = (event) => {
    if (!this.enabled) return;
    const now = Date.now();
    const phaseChanged = this.pending !== undefined && (this.pending.phase !== event.phase || this.pending.round !== event.round);
    if (phaseChanged) this.draw(this.pending!, true);
    this.pending = event;
    const finished = event.total !== undefined && event.done >= event.total;
    if (finished || now - this.last >= this.intervalMs) this.draw(event, false);
  };

  end(): void {
    if (this.enabled && this.pending) this.draw(this.pending, true);
    this.pending = undefined;
  }

  private draw(event: ProgressEvent, newline: boolean): void {
    this.last = Date.now();
    const text = formatProgress(event);
    const pad = Math.max(0, this.width - text.length);
    this.stream.write(`\r${text}${' '.repeat(pad)}${newline ? '\n' : ''}`);
    this.width = newline ? 0 : text.length;
    if (newline) this.pending = undefined;
  }
}
