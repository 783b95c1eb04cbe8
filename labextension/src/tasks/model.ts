import { ISignal, Signal } from '@lumino/signaling';

import { requestCoda, requestCodaText } from '../api';
import { ServerPoll } from '../poll';

/** The terminal of a background task is named after it (tasks/runner.py). */
export function taskTerminal(taskId: string): string {
  return `task_${taskId}`;
}

/** One entry of `GET coda/api/tasks`. */
export interface ITaskEntry {
  task_id: string;
  status: string;
  agent: string;
  terminal: string | null;
  cwd: string | null;
  permissions: string | null;
  bypasses_approvals: boolean | null;
  timeout_s: number | null;
  previous_task_id: string | null;
  prompt_summary: string;
  created_at_iso: string | null;
  ended_at_iso: string | null;
  exit_code: number | null;
  elapsed_s: number;
  progress?: string | null;
  summary?: string;
  lab_url?: string;
}

export interface ITaskList {
  tasks: ITaskEntry[];
  counts: Record<string, number>;
  retention_hours: number;
}

const BUSY_MS = 1500;
// New tasks arrive over MCP at any time; an open panel should show them soon.
const VISIBLE_MS = 3000;
const IDLE_MS = 15000;

/** Live list of background tasks; polls faster while any task runs. */
export class TasksModel {
  private _list: ITaskList | null = null;
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
  private _poll: ServerPoll;
  private _visible = false;

  constructor() {
    this._poll = new ServerPoll({
      name: 'tasks',
      interval: IDLE_MS,
      max: 60000,
      request: () => this._fetch()
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get list(): ITaskList | null {
    return this._list;
  }

  get error(): string | null {
    return this._error;
  }

  /** The panel is on screen: poll often enough to catch new tasks quickly. */
  set visible(value: boolean) {
    this._visible = value;
    if (value) {
      void this.refresh();
    }
  }

  async refresh(): Promise<void> {
    await this._poll.refresh();
  }

  async cancel(taskId: string): Promise<void> {
    await requestCoda(`api/tasks/${taskId}/cancel`, { method: 'POST' });
    await this.refresh();
  }

  detail(taskId: string): Promise<Record<string, unknown>> {
    return requestCoda<Record<string, unknown>>(`api/tasks/${taskId}`);
  }

  transcript(taskId: string): Promise<string> {
    return requestCodaText(`api/tasks/${taskId}/transcript`);
  }

  dispose(): void {
    this._poll.dispose();
  }

  private async _fetch(): Promise<void> {
    try {
      this._list = await requestCoda<ITaskList>('api/tasks?limit=100');
      this._error = null;
    } catch (error) {
      this._error = (error as Error).message;
    }
    const busy = this._list?.tasks.some(task => task.status === 'running');
    this._poll.interval = busy ? BUSY_MS : this._visible ? VISIBLE_MS : IDLE_MS;
    this._changed.emit();
  }
}
