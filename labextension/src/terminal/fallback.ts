/**
 * Terminals switch by themselves to the HTTP transport (httpTransport.ts)
 * when their websocket cannot be opened, as behind a proxy that refuses
 * upgrades.
 *
 * JupyterLab's terminal connection opens each socket with the `WebSocket`
 * constructor of its own server settings. That constructor is swapped, for
 * one connection, for a socket that tries a real websocket first and, when
 * it fails before opening, opens an HTTP session in its place without
 * telling JupyterLab anything went wrong. Once HTTP worked where a websocket
 * did not, the terminal (and any terminal opened later in the page) goes
 * straight to HTTP on its next reconnects.
 *
 * The connection's first socket is opened in its constructor, before this
 * can be installed; when that one fails JupyterLab reconnects at once, and
 * the swapped constructor takes over from there.
 */
import type { ServerConnection, Terminal } from '@jupyterlab/services';
import { Signal, ISignal } from '@lumino/signaling';

import { HttpTerminalSocket, OpenHttpSockets } from './httpTransport';

export type TransportKind = 'websocket' | 'http';

/** Which transport a terminal's connection uses, and when that changes. */
export class TransportChoice {
  private _kind: TransportKind = 'websocket';
  private readonly _changed = new Signal<this, TransportKind>(this);

  get kind(): TransportKind {
    return this._kind;
  }

  get changed(): ISignal<this, TransportKind> {
    return this._changed;
  }

  use(kind: TransportKind): void {
    if (kind !== this._kind) {
      this._kind = kind;
      this._changed.emit(kind);
    }
  }
}

/**
 * What the fallback knows page-wide, shared by every terminal of the page
 * (one instance, made by the plugin): a proxy that refused one terminal's
 * websocket refuses them all, so later terminals skip the attempt; and the
 * HTTP sockets open in the page.
 */
export class HttpFallback {
  websocketsRefused = false;
  readonly sockets = new OpenHttpSockets();
}

type Socket = WebSocket | HttpTerminalSocket;

/** What one terminal's sockets are opened with. */
interface IFallbackContext {
  readonly settings: ServerConnection.ISettings;
  readonly name: string;
  readonly choice: TransportChoice;
  readonly page: HttpFallback;
}

/** A WebSocket that becomes an HTTP session when it cannot open. */
class FallbackSocket {
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  private _inner: Socket;
  private _closed = false;

  constructor(
    url: string,
    private readonly _context: IFallbackContext
  ) {
    this._inner =
      _context.choice.kind === 'http' || _context.page.websocketsRefused
        ? this._http()
        : this._websocket(url);
  }

  get readyState(): number {
    return this._inner.readyState;
  }

  send(data: string): void {
    this._inner.send(data);
  }

  close(code?: number, reason?: string): void {
    this._closed = true;
    this._inner.close(code, reason);
  }

  private _websocket(url: string): WebSocket {
    const socket = new this._context.settings.WebSocket(url);
    let opened = false;
    socket.onopen = event => {
      opened = true;
      this.onopen?.(event);
    };
    socket.onmessage = event => this.onmessage?.(event);
    const failed = (event: Event): void => {
      if (opened) {
        if (event.type === 'close') {
          this.onclose?.(event as CloseEvent);
        } else {
          this.onerror?.(event);
        }
        return;
      }
      // Never opened: refused on the way (or the server is down, in which
      // case HTTP fails too and JupyterLab reconnects as usual).
      socket.onerror = socket.onclose = null;
      if (!this._closed) {
        this._inner = this._http();
      }
    };
    socket.onerror = failed;
    socket.onclose = failed;
    return socket;
  }

  private _http(): HttpTerminalSocket {
    const { settings, name, choice, page } = this._context;
    const socket = new HttpTerminalSocket(settings, name, page.sockets);
    socket.onopen = event => {
      if (choice.kind !== 'http') {
        page.websocketsRefused = true;
        choice.use('http');
      }
      this.onopen?.(event);
    };
    socket.onmessage = event => this.onmessage?.(event);
    socket.onerror = event => this.onerror?.(event);
    socket.onclose = event => this.onclose?.(event);
    return socket;
  }
}

/** A constructor JupyterLab can call as `new WebSocket(url)`. */
function socketClass(context: IFallbackContext): typeof WebSocket {
  class TerminalSocket extends FallbackSocket {
    constructor(url: string) {
      super(url, context);
    }
  }
  return TerminalSocket as unknown as typeof WebSocket;
}

/**
 * Let `session` fall back to HTTP; `null` when it is not JupyterLab's own
 * connection class (no server settings to work with): it keeps its websocket.
 */
export function allowHttpFallback(
  session: Terminal.ITerminalConnection,
  page: HttpFallback
): TransportChoice | null {
  const connection = session as unknown as {
    serverSettings?: ServerConnection.ISettings;
  };
  const settings = connection.serverSettings;
  if (!settings || typeof settings.WebSocket !== 'function') {
    return null;
  }
  const choice = new TransportChoice();
  connection.serverSettings = {
    ...settings,
    WebSocket: socketClass({ settings, name: session.name, choice, page })
  };
  return choice;
}
