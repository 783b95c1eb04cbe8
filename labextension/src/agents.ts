import { LabIcon } from '@jupyterlab/ui-components';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { requestCoda } from './api';
import { ServerPoll } from './poll';
import type { IAgentInfo, ICodaAgents } from './tokens';

export type { IAgentInfo } from './tokens';

const FALLBACK_ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 52 52"><rect x="2" y="2" width="48" height="48" rx="10" fill="#607080"/><path d="M12 17l8 9-8 9" fill="none" stroke="#fff" stroke-width="4" stroke-linecap="round" stroke-linejoin="round"/></svg>';

// Installs finish in the background; a slow poll flips tiles to ready.
const REFRESH_MS = 15000;

/**
 * The client-side view of the server's agent catalogue.
 *
 * The server decides which agents exist; the lab side only renders them and
 * polls so tiles change as background installs finish.
 */
export class AgentRegistry implements ICodaAgents, IDisposable {
  private _agents = new Map<string, IAgentInfo>();
  private _icons = new Map<string, LabIcon>();
  private _changed = new Signal<this, void>(this);
  private _poll: ServerPoll;

  /** `onError` hears each failed request (the poll then backs off). */
  constructor(onError: (error: Error) => void) {
    this._poll = new ServerPoll({
      name: 'agents',
      interval: REFRESH_MS,
      max: 60000,
      request: async () => {
        try {
          await this._fetch();
        } catch (error) {
          onError(error as Error);
          throw error;
        }
      }
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Settles after the first answer (or failure): commands that label widgets wait for it. */
  get ready(): Promise<void> {
    return this._poll.firstRequest;
  }

  get agents(): IAgentInfo[] {
    return [...this._agents.values()];
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  get(id: string): IAgentInfo | undefined {
    return this._agents.get(id);
  }

  /**
   * The agent's icon; a greyed variant while it is not installed, so the
   * launcher tile looks different (the launcher ignores iconClass when an
   * icon is given, hence a separate LabIcon).
   */
  icon(id: string): LabIcon {
    const agent = this._agents.get(id);
    const missing = agent?.installed === false;
    const name = `coda-jupyter:agent-${id}${missing ? '-missing' : ''}`;
    let icon = this._icons.get(name);
    if (!icon) {
      const svg = agent?.icon ?? FALLBACK_ICON;
      icon = new LabIcon({
        name,
        svgstr: missing
          ? svg.replace('<svg ', '<svg class="coda-AgentIcon-missing" ')
          : svg
      });
      this._icons.set(name, icon);
    }
    return icon;
  }

  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    const list = await requestCoda<IAgentInfo[]>('api/agents');
    const before = JSON.stringify(this.agents);
    this._agents = new Map(list.map(agent => [agent.id, agent]));
    if (JSON.stringify(this.agents) !== before) {
      this._changed.emit();
    }
  }
}
