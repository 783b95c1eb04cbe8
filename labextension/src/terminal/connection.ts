/**
 * Shows a terminal's connection state on the terminal itself.
 *
 * JupyterLab reconnects a dropped terminal websocket a few times with backoff
 * and queues what is typed meanwhile, but shows nothing, and after its last
 * attempt it stops for good. Here a banner says when the terminal is
 * reconnecting (and that typing is kept for later), and once JupyterLab has
 * given up it keeps trying on its own schedule. A button tries at once.
 *
 * When the terminal's websocket cannot be opened at all (a proxy refusing
 * upgrades), the connection switches to HTTP (fallback.ts); a badge on the
 * terminal says so, and the terminal node's `data-coda-transport` is `http`.
 */
import type { ITerminal } from '@jupyterlab/terminal';
import type { Terminal } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';

import { HttpFallback, TransportKind, allowHttpFallback } from './fallback';

const BANNER_CLASS = 'coda-TerminalConnection';
const BADGE_CLASS = 'coda-TerminalTransport';
// Retries after JupyterLab's own ones are used up: doubling, capped.
const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 30000;

function showTransport(
  terminal: ITerminal.ITerminal,
  fallback: HttpFallback,
  trans: TranslationBundle
): void {
  const choice = allowHttpFallback(terminal.session, fallback);
  if (!choice) {
    return;
  }
  const badge = document.createElement('div');
  badge.className = BADGE_CLASS;
  badge.textContent = trans.__('HTTP');
  badge.title = trans.__(
    'Websockets are blocked between this browser and the server, so this terminal talks to it over ordinary HTTP requests. Everything works; output may arrive a little later.'
  );
  badge.hidden = true;
  terminal.node.appendChild(badge);
  const update = (kind: TransportKind): void => {
    terminal.node.dataset.codaTransport = kind;
    badge.hidden = kind !== 'http';
  };
  update(choice.kind);
  choice.changed.connect((_, kind) => update(kind));
  terminal.session.disposed.connect(() => badge.remove());
}

/** The hidden banner, its message and a button that reconnects at once. */
function addBanner(
  terminal: ITerminal.ITerminal,
  trans: TranslationBundle
): { banner: HTMLDivElement; text: HTMLSpanElement } {
  const banner = document.createElement('div');
  banner.className = BANNER_CLASS;
  banner.setAttribute('role', 'status');
  banner.hidden = true;
  const text = document.createElement('span');
  const button = document.createElement('button');
  button.className = 'jp-mod-styled';
  button.textContent = trans.__('Reconnect now');
  button.addEventListener('click', () => {
    void terminal.session.reconnect().catch(() => undefined);
  });
  banner.append(text, button);
  terminal.node.appendChild(banner);
  return { banner, text };
}

export function showConnectionState(
  terminal: ITerminal.ITerminal,
  fallback: HttpFallback,
  trans: TranslationBundle
): void {
  showTransport(terminal, fallback, trans);
  const session: Terminal.ITerminalConnection = terminal.session;
  const { banner, text } = addBanner(terminal, trans);

  let wasConnected = session.connectionStatus === 'connected';
  let retry: ReturnType<typeof setTimeout> | undefined;
  let delay = RETRY_FIRST_MS;

  const retryLater = (): void => {
    clearTimeout(retry);
    retry = setTimeout(() => {
      delay = Math.min(delay * 2, RETRY_MAX_MS);
      void session.reconnect().catch(() => undefined);
    }, delay);
  };

  const update = (status: Terminal.ConnectionStatus): void => {
    if (status === 'connected') {
      wasConnected = true;
      delay = RETRY_FIRST_MS;
      clearTimeout(retry);
      banner.hidden = true;
      return;
    }
    if (!wasConnected || session.isDisposed) {
      return; // the first connection, or a terminal that ended: nothing to say
    }
    banner.hidden = false;
    banner.dataset.status = status;
    if (status === 'connecting') {
      text.textContent = trans.__(
        'Disconnected from the terminal, reconnecting… What you type is sent once it is back.'
      );
    } else {
      text.textContent = trans.__(
        'Disconnected from the terminal. Retrying; what you type is sent once it is back.'
      );
      retryLater();
    }
  };
  session.connectionStatusChanged.connect((_, status) => update(status));
  session.disposed.connect(() => {
    clearTimeout(retry);
    banner.remove();
  });
}
