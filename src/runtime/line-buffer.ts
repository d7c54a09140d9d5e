/** Where the buffer writes: `process.stdout` by default (synchronous for files and pipes on Linux). */
export interface LineSink {
  write(text: string): unknown;
}

/** How many lines wait at most before they are written without waiting for the event loop's turn. */
export const MAX_BUFFERED_LINES = 256;

/**
 * Log lines gathered over one turn of the event loop and written together, one write per turn instead
 * of one `console.log` per event (7% of the Node entry's CPU per publish with a write each,
 * bench/RESULTS.md). Each line stays one JSON object on its own line. Nothing is lost at shutdown:
 * {@link LineBuffer.flush} runs on `close()` of the Node entry, and on the process's `exit` event, which
 * fires on `process.exit()` and when the loop empties (a crash prints its error on stderr after the
 * lines already gathered). A Lambda handler does not use this: its lines are written before it returns.
 * @see https://nodejs.org/docs/latest-v20.x/api/process.html#a-note-on-process-io
 */
export class LineBuffer {
  private lines: string[] = [];
  private scheduled = false;
  private closed = false;
  private readonly onExit = () => this.flush();

  constructor(private readonly sink: LineSink = process.stdout) {
    process.on("exit", this.onExit);
  }

  /** Adds one line (without its newline); it is written at the end of this turn of the event loop. */
  readonly write = (line: string): void => {
    this.lines.push(line);
    if (this.closed || this.lines.length >= MAX_BUFFERED_LINES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushScheduled);
    }
  };

  private readonly flushScheduled = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Writes every line gathered so far, now. */
  flush(): void {
    if (this.lines.length === 0) return;
    const text = `${this.lines.join("\n")}\n`;
    this.lines = [];
    this.sink.write(text);
  }

  /** Writes what is left and stops listening for the process's exit; later lines are written at once. */
  close(): void {
    this.closed = true;
    this.flush();
    process.off("exit", this.onExit);
  }
}
