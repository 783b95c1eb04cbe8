/**
 * End-to-end flow control for a terminal: tells the server how much output
 * xterm.js has parsed, so the server stops reading the program's output while
 * the browser is behind (coda_jupyter/terminals/flow.py has the protocol).
 * Without it a flood piles up between the PTY and xterm, and Ctrl+C waits
 * behind tens of megabytes.
 *
 * Opt-in per connection: after each (re)connection this asks for flow
 * control, and counts output only once the server has confirmed it. A server
 * that does not know the protocol ignores the request, and nothing changes.
 *
 * JupyterLab's widget writes each message into xterm itself. The message is
 * acknowledged by a callback on that very write, once xterm has parsed it.
 * An empty write queued after it would call back too, but xterm stops its
 * write loop when a turn runs over its time budget, often right before such a
 * write: the acknowledgement, and so the refill, would then wait for the next
 * frame, and the page would draw that frame with nothing left to parse.
 */
import type { ITerminal } from '@jupyterlab/terminal';
import type { Terminal } from '@jupyterlab/services';

import { WritePacer } from './pacing';
import { Xterm, xtermOf } from './xterm';

const VERSION = 1;
// Characters (JavaScript string length) the server may send past the last
// acknowledgement before it pauses, and the level it resumes at.
export const HIGH_WATERMARK = 100_000;
export const LOW_WATERMARK = 30_000;
// Acknowledge in batches, well below the low watermark so the server always
// hears of progress before the browser runs dry.
const ACK_EVERY = 5_000;

// JupyterLab types terminal messages as its own few kinds; the connection
// sends any `[type, ...content]` and hands every kind it receives to
// `messageReceived`.
type FlowMessage = { type: 'coda-flow' | 'coda-ack'; content: unknown[] };

function send(
  session: Terminal.ITerminalConnection,
  message: FlowMessage
): void {
  session.send(message as unknown as Terminal.IMessage);
}

/** Flow control for one terminal, across its reconnections. */
class FlowControl {
  private readonly _terminal: ITerminal.ITerminal;
  private readonly _session: Terminal.ITerminalConnection;
  private readonly _xterm: Promise<Xterm | null>;
  // Each connection counts on its own: callbacks for output of an earlier
  // connection must not acknowledge on a later one.
  private _connection = 0;
  private _confirmed = false;
  private _parsed = 0;
  // The output being handed to the widget right now, until its write to
  // xterm is seen (see `_watchWrites`).
  private _handing: { data: string; from: number } | null = null;

  constructor(terminal: ITerminal.ITerminal) {
    this._terminal = terminal;
    this._session = terminal.session;
    this._xterm = xtermOf(terminal);
    // Before the first offer, whose confirmation waits for the same xterm.
    void this._xterm.then(term => term && this._watchWrites(term));
    this._session.connectionStatusChanged.connect((_, status) =>
      this._statusChanged(status)
    );
    this._session.messageReceived.connect((_, message) =>
      this._received(message)
    );
    if (this._session.connectionStatus === 'connected') {
      this._offer();
    }
  }

  private _statusChanged(status: Terminal.ConnectionStatus): void {
    if (status === 'connected') {
      this._offer();
    } else {
      this._confirmed = false;
    }
  }

  private _acknowledge(from: number, count: number): void {
    if (
      from !== this._connection ||
      this._session.connectionStatus !== 'connected'
    ) {
      return;
    }
    this._parsed += count;
    if (this._parsed >= ACK_EVERY) {
      send(this._session, { type: 'coda-ack', content: [this._parsed] });
      this._parsed = 0;
    }
  }

  private _offer(): void {
    this._connection += 1;
    this._confirmed = false;
    this._parsed = 0;
    const from = this._connection;
    void this._xterm.then(term => {
      // Without an xterm to watch there is nothing to acknowledge with.
      if (
        term &&
        from === this._connection &&
        this._session.connectionStatus === 'connected'
      ) {
        send(this._session, {
          type: 'coda-flow',
          content: [
            { version: VERSION, high: HIGH_WATERMARK, low: LOW_WATERMARK }
          ]
        });
      }
    });
  }

  private _received(message: Terminal.IMessage): void {
    if ((message.type as string) === 'coda-flow') {
      this._confirmed = true;
      return;
    }
    const data = message.content?.[0];
    if (
      !this._confirmed ||
      message.type !== 'stdout' ||
      typeof data !== 'string'
    ) {
      return;
    }
    const from = this._connection;
    if (document.hidden) {
      // A hidden page parses only when the browser lets its timers run
      // (about once a second): acknowledging on arrival keeps a program in
      // a background tab running at full speed, as without flow control.
      this._acknowledge(from, data.length);
      return;
    }
    // The widget's handler, connected after this one, writes the message
    // next: that write takes the acknowledgement along.
    this._handing = { data, from };
    void this._xterm.then(term => {
      const missed = this._handing;
      this._handing = null;
      // Not written through xterm's `write` while the message was handed
      // round (another widget, or handlers in another order): an empty write,
      // queued once every handler has run, calls back after it is parsed.
      if (term && missed) {
        term.write('', () =>
          this._acknowledge(missed.from, missed.data.length)
        );
      }
    });
  }

  /**
   * Wrap this xterm's `write`: every write goes through one pacer, and the
   * widget's write of the message being handed round carries the
   * acknowledgement, piece by piece as xterm parses it.
   */
  private _watchWrites(term: Xterm): void {
    const pacer = new WritePacer(
      term.write.bind(term),
      () => this._terminal.isVisible,
      () => this._terminal.isDisposed
    );
    term.write = (data: string | Uint8Array, callback?: () => void): void => {
      const handing = this._handing;
      if (!handing || data !== handing.data) {
        pacer.write({ data, done: callback });
        return;
      }
      this._handing = null;
      pacer.write({
        data,
        done: callback,
        parsed: count => this._acknowledge(handing.from, count)
      });
    };
  }
}

export function controlFlow(terminal: ITerminal.ITerminal): void {
  new FlowControl(terminal);
}
