/**
 * A terminal connection over plain HTTP, shaped like the WebSocket that
 * JupyterLab's terminal connection opens, for networks whose proxy refuses
 * websocket upgrades. It carries the websocket's own messages (terminado's
 * JSON arrays and coda's flow-control ones) through the server's
 * `coda/api/terminals/<name>/sessions` routes
 * (coda_jupyter/terminals/http_transport.py has the protocol):
 *
 * - opening attaches a session, whose first messages are `setup` and the replay;
 * - output comes from a long poll that is sent again as soon as it answers;
 * - what JupyterLab sends is POSTed in numbered batches, one at a time, so
 *   order is kept and a retried batch is never applied twice.
 *
 * Everything above the socket (reconnects, the reattach guard, flow-control
 * acknowledgements, the connection banner) works unchanged.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;
// A WebSocket's code for a connection lost without a close frame; JupyterLab
// reconnects on it (and not on 1000 or 1001).
const ABNORMAL_CLOSURE = 1006;
const NORMAL_CLOSURE = 1000;
// Seconds a poll may wait on the server (at most 25 there).
const POLL_WAIT_S = 20;
// Requests that fail in a row (network errors, a proxy's 5xx) before the
// connection counts as lost; between them a growing pause.
const MAX_FAILURES = 3;
const RETRY_MS = 500;
// Messages one input request carries at most (the server takes 1,000).
const MAX_BATCH = 500;

type Message = [string, ...unknown[]];

/**
 * The HTTP sockets open in a page, detached when the page goes away: unlike a
 * websocket, an HTTP session is not closed by the browser, and would linger
 * until it expires. Reported as a dropped connection, so a page restored from
 * the back/forward cache reconnects. One per page, shared by its terminals.
 */
export class OpenHttpSockets {
  private readonly _live = new Set<HttpTerminalSocket>();
  private _hooked = false;

  add(socket: HttpTerminalSocket): void {
    this._hookPageHide();
    this._live.add(socket);
  }

  delete(socket: HttpTerminalSocket): void {
    this._live.delete(socket);
  }

  private _hookPageHide(): void {
    if (this._hooked) {
      return;
    }
    this._hooked = true;
    window.addEventListener('pagehide', () => {
      for (const socket of [...this._live]) {
        socket.drop('the page was hidden');
      }
    });
  }
}

function isAck(message: Message | undefined): message is ['coda-ack', number] {
  return message?.[0] === 'coda-ack' && typeof message[1] === 'number';
}

function pause(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

export class HttpTerminalSocket {
  readyState = CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  private _session = '';
  private _since = 0;
  private _seq = 0;
  private _outgoing: Message[] = [];
  private _inFlight = 0;
  private _sending = false;
  private readonly _abort = new AbortController();

  constructor(
    private readonly _settings: ServerConnection.ISettings,
    private readonly _name: string,
    private readonly _sockets: OpenHttpSockets
  ) {
    void this._open();
  }

  send(data: string): void {
    if (this.readyState === CONNECTING) {
      // As a WebSocket does: nothing may be sent before it opens.
      throw new DOMException('Still in CONNECTING state.', 'InvalidStateError');
    }
    if (this.readyState !== OPEN) {
      return; // a closed WebSocket drops what it is given, too
    }
    const message = JSON.parse(data) as Message;
    const last = this._outgoing[this._outgoing.length - 1];
    // Acknowledgements waiting together become one: only their sum matters.
    if (
      isAck(message) &&
      this._outgoing.length > this._inFlight &&
      isAck(last)
    ) {
      this._outgoing[this._outgoing.length - 1] = [
        'coda-ack',
        last[1] + message[1]
      ];
    } else {
      this._outgoing.push(message);
    }
    void this._flush();
  }

  close(code = NORMAL_CLOSURE, reason = ''): void {
    if (this.readyState === CLOSED) {
      return;
    }
    this._finish();
    if (this._session) {
      void this._detach(this._session);
    }
    // A WebSocket reports its end after close() returns.
    setTimeout(() => this.onclose?.(closeEvent(code, reason, true)));
  }

  /** `coda/api/terminals/<name>/sessions[/<session>[/<what>]]`. */
  private _url(session?: string, what?: string): string {
    const parts = [encodeURIComponent(this._name), 'sessions'];
    if (session !== undefined) {
      parts.push(encodeURIComponent(session), ...(what ? [what] : []));
    }
    return URLExt.join(this._settings.baseUrl, 'coda/api/terminals', ...parts);
  }

  private _request(
    method: string,
    url: string,
    body?: unknown,
    keepalive = false
  ): Promise<Response> {
    const init: RequestInit = { method, keepalive };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    if (!keepalive) {
      init.signal = this._abort.signal;
    }
    return ServerConnection.makeRequest(url, init, this._settings);
  }

  private async _open(): Promise<void> {
    let session: unknown;
    try {
      const reply = await this._request('POST', this._url(), {});
      if (reply.status !== 201) {
        throw new Error(`HTTP ${reply.status}`);
      }
      session = ((await reply.json()) as { session?: unknown }).session;
      if (typeof session !== 'string') {
        throw new Error('no session in the reply');
      }
    } catch (error) {
      this.drop(`no HTTP session: ${error}`);
      return;
    }
    if (this.readyState !== CONNECTING) {
      void this._detach(session); // closed while it was being opened
      return;
    }
    this._session = session;
    this.readyState = OPEN;
    this._sockets.add(this);
    this.onopen?.(new Event('open'));
    void this._poll();
  }

  private async _poll(): Promise<void> {
    let failures = 0;
    while (this.readyState === OPEN) {
      let reply: { messages: Message[]; next: number };
      try {
        const url = `${this._url(this._session, 'output')}?since=${this._since}&wait=${POLL_WAIT_S}`;
        const response = await this._request('GET', url);
        if (response.status < 500 && !response.ok) {
          // The session ended or expired (404), or was refused: reconnect.
          this.drop(`HTTP ${response.status}`);
          return;
        }
        if (!response.ok) {
          throw new Error(`HTTP ${response.status}`);
        }
        reply = await response.json();
      } catch (error) {
        if (this.readyState !== OPEN) {
          return;
        }
        failures += 1;
        if (failures >= MAX_FAILURES) {
          this.drop(`polling failed: ${error}`);
          return;
        }
        await pause(RETRY_MS * failures);
        continue;
      }
      failures = 0;
      this._since = reply.next;
      for (const message of reply.messages) {
        if (this.readyState !== OPEN) {
          return;
        }
        this.onmessage?.(
          new MessageEvent('message', { data: JSON.stringify(message) })
        );
      }
    }
  }

  private async _flush(): Promise<void> {
    if (this._sending) {
      return;
    }
    this._sending = true;
    let failures = 0;
    try {
      while (this._outgoing.length > 0 && this.readyState === OPEN) {
        const batch = this._outgoing.slice(0, MAX_BATCH);
        this._inFlight = batch.length;
        try {
          const url = this._url(this._session, 'input');
          const response = await this._request('POST', url, {
            seq: this._seq,
            messages: batch
          });
          if (response.status < 500 && !response.ok) {
            this.drop(`input refused: HTTP ${response.status}`);
            return;
          }
          if (!response.ok) {
            throw new Error(`HTTP ${response.status}`);
          }
        } catch (error) {
          if (this.readyState !== OPEN) {
            return;
          }
          failures += 1;
          if (failures >= MAX_FAILURES) {
            this.drop(`sending failed: ${error}`);
            return;
          }
          await pause(RETRY_MS * failures);
          continue; // the same batch with the same number: applied at most once
        }
        failures = 0;
        this._outgoing.splice(0, batch.length);
        this._seq += 1;
      }
    } finally {
      this._inFlight = 0;
      this._sending = false;
    }
  }

  private async _detach(session: string): Promise<void> {
    try {
      await this._request('DELETE', this._url(session), undefined, true);
    } catch {
      // Unreachable: the server drops the session once it is not polled.
    }
  }

  private _finish(): void {
    this.readyState = CLOSED;
    this._abort.abort();
    this._sockets.delete(this);
  }

  /** The connection is gone without a close() from JupyterLab: report it as a dropped WebSocket. */
  drop(reason: string): void {
    if (this.readyState === CLOSED) {
      return;
    }
    console.warn(`coda-jupyter: terminal ${this._name} over HTTP: ${reason}`);
    this._finish();
    if (this._session) {
      void this._detach(this._session);
    }
    // Only the close: JupyterLab handles error and close alike, and each
    // would count as one of its reconnection attempts.
    this.onclose?.(closeEvent(ABNORMAL_CLOSURE, reason, false));
  }
}

function closeEvent(
  code: number,
  reason: string,
  wasClean: boolean
): CloseEvent {
  return new CloseEvent('close', { code, reason, wasClean });
}
