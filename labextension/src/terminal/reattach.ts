/**
 * Reattaching to a running terminal (a page reload, a reconnect) replays its
 * recent output, and that output holds the queries programs sent earlier:
 * device attributes, cursor position, colours. xterm.js answers them again
 * while it parses the replay, and JupyterLab sends every answer to the
 * program as if typed: junk at a shell prompt, keystrokes inside an agent.
 *
 * So from each (re)connection until xterm has parsed the replay, input that
 * consists only of terminal replies is dropped. What the user types still
 * goes through: keys never look like these reports.
 *
 * A full-screen program's replay is often cut (terminado keeps only recent
 * output), so once it is parsed a program on the alternate screen is asked
 * to redraw: the size is set one column wider and, a moment later, back,
 * which sends it SIGWINCH twice (setting an unchanged size sends nothing).
 */
import type { ITerminal } from '@jupyterlab/terminal';
import type { Terminal } from '@jupyterlab/services';

import { Xterm, xtermOf } from './xterm';

// Reports a terminal sends unasked only in answer to a query: DA1/DA2
// (`CSI ? … c`, `CSI > … c`), cursor position and status (`CSI … R`,
// `CSI … n`), mode reports (`CSI ? … $ y`), window reports (`CSI … t`),
// OSC colour answers and DCS answers (XTVERSION, DECRQSS).
const REPLY =
  // eslint-disable-next-line no-control-regex
  /^(?:\x1b\[[?>]?[\d;]*[cRnt]|\x1b\[\?[\d;]*\$y|\x1b\]\d+;[^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP[^\x1b]*\x1b\\)+$/;

/** Whether `data` (one xterm onData payload) is nothing but terminal replies. */
export function isTerminalReply(data: string): boolean {
  return REPLY.test(data);
}

// A connection whose replay does not arrive within this long has none
// (terminado sends it right after the handshake).
const NO_REPLAY_MS = 1000;
// The redraw's second resize waits this long after the first, so the program
// sees two resizes rather than one signal for both.
const RESTORE_SIZE_MS = 250;

/** The guard of one terminal, across its reconnections. */
class ReattachGuard {
  private readonly _send: (message: Terminal.IMessage) => void;
  private _replaying = false;
  private _fallback: ReturnType<typeof setTimeout> | undefined;
  // Counts connections: a parse callback queued for an earlier one must not
  // end a later one's window.
  private _connection = 0;

  constructor(private readonly _terminal: ITerminal.ITerminal) {
    const session = _terminal.session;
    this._send = session.send.bind(session);
    session.send = (message: Terminal.IMessage): void => this._filter(message);
    session.connectionStatusChanged.connect((_, status) => {
      if (status === 'connected') {
        this._start();
      }
    });
    session.messageReceived.connect((_, message) => {
      if (this._replaying && message.type === 'stdout') {
        clearTimeout(this._fallback);
        this._afterParse();
      }
    });
    if (session.connectionStatus === 'connected') {
      // Already connected: the replay may sit in the widget's buffer, which it
      // writes as soon as xterm exists.
      this._start();
      this._afterParse();
    }
  }

  /** What JupyterLab sends, less the replies xterm gives to a replay. */
  private _filter(message: Terminal.IMessage): void {
    const data = message.content?.[0];
    if (
      this._replaying &&
      message.type === 'stdin' &&
      typeof data === 'string' &&
      isTerminalReply(data)
    ) {
      return;
    }
    this._send(message);
  }

  private _start(): void {
    this._connection += 1;
    this._replaying = true;
    clearTimeout(this._fallback);
    this._fallback = setTimeout(() => this._finish(), NO_REPLAY_MS);
  }

  private _finish(): void {
    this._replaying = false;
    clearTimeout(this._fallback);
  }

  // Called once the replay's message has been handed to xterm (the widget
  // writes it in its own handler, which may run after ours, hence the
  // microtask): an empty write's callback runs once everything before it
  // has been parsed, answers included.
  private _afterParse(): void {
    const connection = this._connection;
    void Promise.resolve()
      .then(() => xtermOf(this._terminal))
      .then(term => {
        if (!term) {
          this._finish();
          return;
        }
        term.write('', () => {
          // Live output right behind the replay queues a second callback:
          // the first one has finished the replay and asked for the redraw.
          if (!this._replaying || connection !== this._connection) {
            return;
          }
          this._finish();
          this._redraw(term);
        });
      });
  }

  private _setSize(rows: number, cols: number): void {
    const { offsetHeight, offsetWidth } = this._terminal.node;
    this._send({
      type: 'set_size',
      content: [rows, cols, offsetHeight, offsetWidth]
    });
  }

  private _redraw(term: Xterm): void {
    if (term.buffer.active.type !== 'alternate') {
      return;
    }
    // Wider first, then back: the last change is a narrower screen, which
    // Claude Code's full-screen renderer answers by drawing everything again.
    // Changing the height instead (one row less, then back) left it laid out
    // for the first size in every run tried, even a second apart.
    this._setSize(term.rows, term.cols + 1);
    // The size then, not now: the page may have been resized meanwhile.
    setTimeout(() => this._setSize(term.rows, term.cols), RESTORE_SIZE_MS);
  }
}

export function guardReattach(terminal: ITerminal.ITerminal): void {
  new ReattachGuard(terminal);
}
