import { LabIcon } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';

import { requestCoda } from './api';

/** One entry of `GET coda/api/agents`. */
export interface IAgentInfo {
  id: string;
  label: string;
  installed: boolean;
  version: string | null;
  executable: string | null;
  icon: string | null;
  /** How this kind of client connects to coda's MCP endpoint; the URL is a placeholder. */
  mcp_client: { where: string; snippet: string } | null;
}

const FALLBACK_ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 52 52"><rect x="2" y="2" width="48" height="48" rx="10" fill="#607080"/><path d="M12 17l8 9-8 9" fill="none" stroke="#fff" stroke-width="4" stroke-linecap="round" stroke-linejoin="round"/></svg>';

/**
 * The client-side view of the server's agent catalogue.
 *
 * The server decides which agents exist; the lab side only renders them and
 * refreshes so tiles change as background installs finish.
 */
export class AgentRegistry {
  private _agents = new Map<string, IAgentInfo>();
  private _icons = new Map<string, LabIcon>();
  private _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get agents(): IAgentInfo[] {
    return [...this._agents.values()];
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

  async refresh(): Promise<void> {
    const list = await requestCoda<IAgentInfo[]>('api/agents');
    const before = JSON.stringify(this.agents);
    this._agents = new Map(list.map(agent => [agent.id, agent]));
    if (JSON.stringify(this.agents) !== before) {
      this._changed.emit();
    }
  }
}
