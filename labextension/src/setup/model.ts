import { ISignal, Signal } from '@lumino/signaling';

import { requestCoda } from '../api';
import { ServerPoll } from '../poll';

export type StepStatus =
  'pending' | 'waiting' | 'running' | 'done' | 'skipped' | 'failed';

export type OverallStatus =
  'pending' | 'running' | 'waiting' | 'done' | 'failed';

/** One step of `GET coda/api/setup`. */
export interface ISetupStep {
  id: string;
  label: string;
  status: StepStatus;
  needs: string[];
  started_at: number | string | null;
  finished_at: number | string | null;
  duration_s: number | null;
  error: string | null;
  log_tail: string | null;
}

export interface ISetupSnapshot {
  status: OverallStatus;
  steps: ISetupStep[];
}

const BUSY_MS = 1000;
const IDLE_MS = 10000;

/** Seconds since the epoch, from either an epoch number or an ISO string. */
export function toEpochSeconds(value: number | string | null): number | null {
  if (value === null) {
    return null;
  }
  if (typeof value === 'number') {
    return value;
  }
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed / 1000;
}

/**
 * Live view of the server's setup engine. Polls fast while anything runs and
 * slowly otherwise, so an idle lab costs almost nothing.
 */
export class SetupModel {
  private _snapshot: ISetupSnapshot | null = null;
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
  private _stepFinished = new Signal<this, ISetupStep>(this);
  private _poll: ServerPoll;

  constructor() {
    this._poll = new ServerPoll({
      name: 'setup',
      interval: BUSY_MS,
      max: 30000,
      request: () => this._fetch()
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted once for every step that reaches `done` while the lab watches. */
  get stepFinished(): ISignal<this, ISetupStep> {
    return this._stepFinished;
  }

  get snapshot(): ISetupSnapshot | null {
    return this._snapshot;
  }

  get error(): string | null {
    return this._error;
  }

  get counts(): { finished: number; total: number } {
    const steps = this._snapshot?.steps ?? [];
    return {
      finished: steps.filter(s => s.status === 'done' || s.status === 'skipped')
        .length,
      total: steps.length
    };
  }

  async refresh(): Promise<void> {
    await this._poll.refresh();
  }

  async retry(step?: string): Promise<void> {
    await requestCoda('api/setup/retry', {
      method: 'POST',
      body: JSON.stringify(step ? { step } : {})
    });
    await this.refresh();
  }

  dispose(): void {
    this._poll.dispose();
  }

  private async _fetch(): Promise<void> {
    try {
      const next = await requestCoda<ISetupSnapshot>('api/setup');
      this._announceFinished(next);
      this._snapshot = next;
      this._error = null;
    } catch (error) {
      this._error = (error as Error).message;
    }
    const busy =
      this._snapshot?.status === 'running' ||
      this._snapshot?.status === 'pending';
    this._poll.interval = busy ? BUSY_MS : IDLE_MS;
    this._changed.emit();
  }

  private _announceFinished(next: ISetupSnapshot): void {
    const before = new Map(
      (this._snapshot?.steps ?? []).map(step => [step.id, step.status])
    );
    for (const step of next.steps) {
      const previous = before.get(step.id);
      if (
        step.status === 'done' &&
        previous !== undefined &&
        previous !== 'done'
      ) {
        this._stepFinished.emit(step);
      }
    }
  }
}
