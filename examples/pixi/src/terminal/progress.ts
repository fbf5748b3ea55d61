/**
 * A progress bar per phase on the terminal: redrawn in place on a TTY, one line per phase when
 * the output is a file or a pipe (CI logs stay readable).
 */

const WIDTH = 30;

/** Draws the progress of the current phase. */
export class PhaseProgress {
  readonly #stream: NodeJS.WriteStream;
  readonly #isTty: boolean;
  #current: string | undefined;

  constructor(stream: NodeJS.WriteStream = process.stdout) {
    this.#stream = stream;
    this.#isTty = stream.isTTY;
  }

  /** Shows `phase` at `fraction` (0..1) with a short status. */
  update(phase: string, fraction: number, status: string): void {
    const done = Math.round(Math.min(1, Math.max(0, fraction)) * WIDTH);
    const bar = `${'#'.repeat(done)}${'.'.repeat(WIDTH - done)}`;
    const line = `  ${phase.padEnd(13)} [${bar}] ${String(Math.round(fraction * 100)).padStart(3)}%  ${status}`;
    if (this.#isTty) {
      this.#stream.write(`\r\x1b[2K${line}`);
      if (fraction >= 1) this.#stream.write('\n');
    } else if (phase !== this.#current || fraction >= 1) {
      // Without a terminal: the start and the end of each phase only.
      if (fraction >= 1 || phase !== this.#current) this.#stream.write(`${line}\n`);
    }
    this.#current = fraction >= 1 ? undefined : phase;
  }
}
