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

// A connection whose replay does not arrive within this long has none.
const NO_REPLAY_MS = 1000;

export function watchTerminal(
  terminal: ITerminal.ITerminal,
  report: (signal: ITerminalSignal) => void
): void {
  const session = terminal.session;
  let replaying = true;
  // Connected, and the replay has not arrived yet.
  let awaitingReplay = false;
  let term: Xterm | null = null;
  let fallback: ReturnType<typeof setTimeout> | undefined;

  const settle = (): void => {
    clearTimeout(fallback);
    if (!term) {
      return;
    }
    // Runs once everything written so far (the replay) has been parsed.
    term.write('', () => {
      replaying = false;
    });
  };
  const arm = (): void => {
    replaying = true;
    awaitingReplay = true;
    clearTimeout(fallback);
    fallback = setTimeout(() => {
      replaying = false;
    }, NO_REPLAY_MS);
  };

  session.connectionStatusChanged.connect((_, status) => {
    if (status === 'connected') {
      arm();
    }
  });
  session.messageReceived.connect((_, message) => {
    if (replaying && message.type === 'stdout') {
      awaitingReplay = false;
      // The widget writes the message in its own handler, which may run
      // after this one: settle after it.
      void Promise.resolve().then(settle);
    }
  });
  if (session.connectionStatus === 'connected') {
    arm();
  }

  const emit = (parsed: IParsedNotification | null, fallbackKind: AttentionKind): boolean => {
    if (parsed && !replaying) {
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

  void xtermOf(terminal).then(found => {
    if (!found) {
      return;
    }
    term = found;
    const kitty = new Osc99Assembler();
    // A notification from a program asks the user to look: treat it as
    // "needs input" unless coda's own hook says the agent is done.
    const handlers: Array<{ dispose(): void }> = [
      found.parser.registerOscHandler(9, data => emit(parseOsc9(data), 'input')),
      found.parser.registerOscHandler(777, data => emit(parseOsc777(data), 'input')),
      found.parser.registerOscHandler(99, data => emit(kitty.push(data), 'input')),
      found.onBell(() => {
        if (!replaying) {
          report({ source: 'bell', kind: 'input', title: '', body: '' });
        }
      })
    ];
    terminal.disposed.connect(() => handlers.forEach(h => h.dispose()));
    // What the widget buffered before xterm existed (the replay, if it came)
    // has just been written; otherwise the replay is still to come.
    if (!awaitingReplay) {
      settle();
    }
  });
}
