import { PromiseDelegate } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';

/** How one server poll is paced. */
export interface IServerPollOptions {
  /** Shown in lumino's debugging names: `coda-jupyter:<name>`. */
  name: string;
  /** Milliseconds between two requests while things go well. */
  interval: number;
  /** Longest wait after failed requests: failures back off up to it. */
  max: number;
  /** One request; a rejection counts as a failure and slows the poll down. */
  request: () => Promise<void>;
}

/**
 * The one way this extension polls the server: a lumino `Poll` that starts at
 * once, backs off on failures, stands by while the page is hidden (lumino's
 * default), and stops for good when its owner disposes it. Owners (models and
 * views made by a plugin) dispose it with themselves, so no timer outlives
 * what it feeds.
 */
export class ServerPoll implements IDisposable {
  private _poll: Poll;
  private _max: number;
  private _first = new PromiseDelegate<void>();

  constructor(options: IServerPollOptions) {
    this._max = options.max;
    this._poll = new Poll({
      factory: async () => {
        try {
          await options.request();
        } finally {
          this._first.resolve();
        }
      },
      frequency: {
        interval: options.interval,
        backoff: true,
        max: options.max
      },
      name: `coda-jupyter:${options.name}`
    });
  }

  /** Settles once the first request has, whatever its outcome (the poll starts at once). */
  get firstRequest(): Promise<void> {
    return this._first.promise;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Change the pace, for instance faster while a server job runs. */
  set interval(interval: number) {
    this._poll.frequency = { interval, backoff: true, max: this._max };
  }

  /** Request now rather than at the next tick; resolves once that request is done. */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  dispose(): void {
    // Nothing waits forever on a poll that never got to ask.
    this._first.resolve();
    this._poll.dispose();
  }
}
