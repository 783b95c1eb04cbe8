/**
 * Listens to one terminal for calls for attention: OSC 9, 777 and 99
 * notifications and BEL, through xterm's parser hooks (so they are seen once
 * each, in order, exactly as xterm parses them).
 *
 * A reload or reconnect replays the terminal's recent output, with the
 * notifications an agent sent before; they were already shown. So from each
 * (re)connection until xterm has parsed the first output (the replay), and
 * while the widget writes what it buffered before xterm existed, nothing is
 * reported: the same window `terminal/reattach.ts` uses for query answers.
 */
import type { ITerminal } from '@jupyterlab/terminal';

import { Xterm, xtermOf } from '../terminal/xterm';
import {
  AttentionKind,
  IParsedNotification,
  Osc99Assembler,
  parseOsc777,
  parseOsc9
} from './osc';

export interface ITerminalSignal {
  source: 'osc' | 'bell' | 'hook';
  kind: AttentionKind;
  title: string;
  body: string;
}

type Report = (signal: ITerminalSignal) => void;

// A connection whose replay does not arrive within this long has none.
const NO_REPLAY_MS = 1000;

/** Whether what xterm parses now is the replay of output already shown. */
class ReplayWindow {
  /** True from each connection until its replay has been parsed. */
  replaying = true;
  /** Connected, and the replay has not arrived yet. */
  awaitingReplay = false;
  private _term: Xterm | null = null;
  private _fallback: ReturnType<typeof setTimeout> | undefined;
  // Counts connections: a settling write queued for an earlier one calls
  // back after a later one has armed, and must not end that one's window.
  private _armed = 0;

  /** A (re)connection: its replay is coming, or nothing within NO_REPLAY_MS. */
  arm(): void {
    this._armed += 1;
    this.replaying = true;
    this.awaitingReplay = true;
    clearTimeout(this._fallback);
    this._fallback = setTimeout(() => {
      this.replaying = false;
    }, NO_REPLAY_MS);
  }

  /** The first output of a connection arrived: it is the replay. */
  replayArrived(): void {
    this.awaitingReplay = false;
    // The widget writes the message in its own handler, which may run
    // after this one: settle after it.
    void Promise.resolve().then(() => this.settle());
  }

  /** xterm exists now; what it buffered before (the replay, if it came) is written. */
  attach(term: Xterm): void {
    this._term = term;
    // Otherwise the replay is still to come, and settles when it arrives.
    if (!this.awaitingReplay) {
      this.settle();
    }
  }

  private settle(): void {
    clearTimeout(this._fallback);
    if (!this._term) {
      return;
    }
    // Runs once everything written so far (the replay) has been parsed.
    const armed = this._armed;
    this._term.write('', () => {
      if (armed === this._armed) {
        this.replaying = false;
      }
    });
  }
}

export function watchTerminal(
  terminal: ITerminal.ITerminal,
  report: Report
): void {
  const session = terminal.session;
  const replay = new ReplayWindow();
  session.connectionStatusChanged.connect((_, status) => {
    if (status === 'connected') {
      replay.arm();
    }
  });
  session.messageReceived.connect((_, message) => {
    if (replay.replaying && message.type === 'stdout') {
      replay.replayArrived();
    }
  });
  if (session.connectionStatus === 'connected') {
    replay.arm();
  }
  void xtermOf(terminal).then(found => {
    if (!found) {
      return;
    }
    listen(found, replay, report, terminal);
    replay.attach(found);
  });
}

/** Hooks xterm's parser; the hooks go with the terminal. */
function listen(
  term: Xterm,
  replay: ReplayWindow,
  report: Report,
  terminal: ITerminal.ITerminal
): void {
  const kitty = new Osc99Assembler();
  const emit = (
    parsed: IParsedNotification | null,
    fallbackKind: AttentionKind
  ): boolean => {
    if (parsed && !replay.replaying) {
      report({
        source: parsed.kind ? 'hook' : 'osc',
        kind: parsed.kind ?? fallbackKind,
        title: parsed.title,
        body: parsed.body
      });
    }
    // Never claim the sequence: other handlers (and xterm) still see it.
    return false;
  };
  // A notification from a program asks the user to look: treat it as
  // "needs input" unless coda's own hook says the agent is done.
  const handlers: Array<{ dispose(): void }> = [
    term.parser.registerOscHandler(9, data => emit(parseOsc9(data), 'input')),
    term.parser.registerOscHandler(777, data =>
      emit(parseOsc777(data), 'input')
    ),
    term.parser.registerOscHandler(99, data => emit(kitty.push(data), 'input')),
    term.onBell(() => {
      if (!replay.replaying) {
        report({ source: 'bell', kind: 'input', title: '', body: '' });
      }
    })
  ];
  terminal.disposed.connect(() => handlers.forEach(h => h.dispose()));
}
