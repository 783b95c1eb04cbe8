/**
 * How output reaches a terminal's xterm. xterm parses in turns of its write
 * loop that go on for 12 ms while output waits, and a key press, or another
 * terminal's output, waits for the turn to end. A terminal in view is handed
 * everything at once, in pieces that bound how far a turn runs over its
 * budget. A terminal out of view (a tab behind another) gets one small piece
 * per task instead: its flood then holds the page for about a millisecond at
 * a time, so typing in the terminal in view stays quick, while the hidden one
 * still parses as fast when nothing else needs the page, having nothing to
 * draw (bench/bench_terminal_flow.py measures both).
 */

type Write = (data: string | Uint8Array, callback?: () => void) => void;

/** Output waiting for xterm, with what to call as it is parsed. */
interface IOutput {
  data: string | Uint8Array;
  /** Called once all of `data` is parsed. */
  done?: () => void;
  /** Called with the length of each piece of `data` as it is parsed. */
  parsed?: (count: number) => void;
}

// What xterm is given at a time in view: a turn of its write loop runs over
// its 12 ms budget by at most one piece, about 4 ms of `cat` output on a slow
// machine (bench/bench_terminal_cat.py's machine parses 135,000 characters in
// 12-18 ms).
const PIECE = 32_768;
// Out of view, one piece per task: about a millisecond of `yes` output here.
// 4,096 kept a key press waiting up to 10 ms at p90, 2,048 up to 6 ms.
const HIDDEN_PIECE = 2_048;

/** Hands one xterm its output in order, paced by whether it is in view. */
export class WritePacer {
  private readonly _write: Write;
  private readonly _inView: () => boolean;
  private readonly _gone: () => boolean;
  private _queue: IOutput[] = [];
  // Open only while output waits, so a closed terminal leaves no port behind.
  private _channel: MessageChannel | null = null;

  constructor(write: Write, inView: () => boolean, gone: () => boolean) {
    this._write = write;
    this._inView = inView;
    this._gone = gone;
  }

  write(output: IOutput): void {
    if (!this._queue.length && !this._paced()) {
      this._writeAll(output);
      return;
    }
    this._queue.push(output);
    if (!this._channel) {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        if (channel === this._channel) {
          this._step(channel);
        }
      };
      this._channel = channel;
      this._next();
    }
  }

  /**
   * Whether output goes to xterm a piece per task. Not while the page is
   * hidden: the browser then runs xterm's timers about once a second, and
   * pieces would crawl.
   */
  private _paced(): boolean {
    return !document.hidden && !this._inView();
  }

  /** One step per task: a message task, not a timer, so xterm's own timers are not slowed by nesting. */
  private _next(): void {
    this._channel?.port2.postMessage(null);
  }

  private _stop(): void {
    this._channel?.port1.close();
    this._channel = null;
  }

  /**
   * One piece to xterm, and the next step once it is parsed: one run of
   * steps per channel, ended by `_stop`.
   */
  private _step(channel: MessageChannel): void {
    if (this._gone()) {
      this._queue = [];
      this._stop();
      return;
    }
    if (!this._paced()) {
      const queue = this._queue;
      this._queue = [];
      this._stop();
      queue.forEach(output => this._writeAll(output));
      return;
    }
    const output = this._queue[0];
    const { data } = output;
    const piece =
      typeof data === 'string'
        ? data.slice(0, cut(data, 0, HIDDEN_PIECE))
        : data;
    const rest = typeof data === 'string' ? data.slice(piece.length) : '';
    if (rest.length) {
      this._queue[0] = { ...output, data: rest };
    } else {
      this._queue.shift();
    }
    this._write(piece, () => {
      output.parsed?.(piece.length);
      if (!rest.length) {
        output.done?.();
      }
      // Brought into view meanwhile, everything left went at once, and
      // output since then may have started a run of its own.
      if (channel !== this._channel) {
        return;
      }
      if (this._queue.length) {
        this._next();
      } else {
        this._stop();
      }
    });
  }

  private _writeAll(output: IOutput): void {
    const { data, done, parsed } = output;
    if (typeof data !== 'string') {
      this._write(data, () => {
        parsed?.(data.length);
        done?.();
      });
      return;
    }
    let start = 0;
    do {
      const end = cut(data, start, PIECE);
      const last = end >= data.length;
      const count = end - start;
      this._write(data.slice(start, end), () => {
        parsed?.(count);
        if (last) {
          done?.();
        }
      });
      start = end;
    } while (start < data.length);
  }
}

/**
 * Where a piece of `data` from `start` ends: at most `size` characters on,
 * never splitting a surrogate pair.
 */
function cut(data: string, start: number, size: number): number {
  const end = start + size;
  if (end >= data.length) {
    return data.length;
  }
  const code = data.charCodeAt(end - 1);
  return code >= 0xd800 && code <= 0xdbff ? end - 1 : end;
}
