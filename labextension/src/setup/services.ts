import { Poll } from '@lumino/polling';

import { requestCoda } from '../api';
import { element } from '../dom';

interface IGatewayStatus {
  running: boolean;
  port: number | null;
  requests_served: number;
  errors: number;
  last_error: { status?: number; message?: string; route?: string } | null;
  upstream_kind: string | null;
  upstream_base: string | null;
}

interface ISyncRepo {
  name: string;
  destination: string | null;
  state: string;
  last_success: number | null;
  last_error: string | null;
}

interface ISyncStatus {
  log_file: string;
  repos: ISyncRepo[];
}

function line(className: string, text: string): HTMLElement {
  return element('div', className, text);
}

/**
 * The Agents panel's lower sections: the local model gateway and workspace
 * sync. Neither reply ever carries a token.
 */
export class ServicesView {
  readonly node = document.createElement('div');
  private _gateway = document.createElement('div');
  private _sync = document.createElement('div');
  private _poll: Poll;

  constructor() {
    this.node.className = 'coda-ServicesView';
    const gatewayTitle = line('coda-AgentsPanel-title', 'Model gateway');
    const syncTitle = line('coda-AgentsPanel-title', 'Workspace sync');
    this._gateway.className = 'coda-ServicesView-gateway';
    this._sync.className = 'coda-ServicesView-sync';
    this.node.append(gatewayTitle, this._gateway, syncTitle, this._sync);
    this._poll = new Poll({
      factory: () => this._fetch(),
      frequency: { interval: 10000, backoff: true, max: 60000 },
      name: 'coda-jupyter:services'
    });
  }

  dispose(): void {
    this._poll.dispose();
  }

  private async _fetch(): Promise<void> {
    const [gateway, sync] = await Promise.all([
      requestCoda<IGatewayStatus>('api/gateway').catch(() => null),
      requestCoda<ISyncStatus>('api/sync').catch(() => null)
    ]);
    this._renderGateway(gateway);
    this._renderSync(sync);
  }

  private _renderGateway(status: IGatewayStatus | null): void {
    if (!status) {
      this._gateway.replaceChildren(line('coda-AgentsPanel-error', 'Gateway status unavailable'));
      return;
    }
    const upstream = status.upstream_base
      ? `${status.upstream_kind === 'ai-gateway' ? 'AI Gateway' : 'serving endpoints'}: ${status.upstream_base}`
      : 'no upstream yet (needs Databricks credentials)';
    const rows = [
      line('', status.running ? `listening on 127.0.0.1:${status.port}` : 'not running'),
      line('', upstream),
      line('', `${status.requests_served} requests, ${status.errors} errors`)
    ];
    if (status.last_error) {
      const error = status.last_error;
      rows.push(
        line('coda-AgentsPanel-error', `last error: ${error.status ?? ''} ${error.route ?? ''} ${error.message ?? ''}`.trim())
      );
    }
    this._gateway.dataset.running = String(status.running);
    this._gateway.replaceChildren(...rows);
  }

  private _renderSync(status: ISyncStatus | null): void {
    if (!status) {
      this._sync.replaceChildren(line('coda-AgentsPanel-error', 'Sync status unavailable'));
      return;
    }
    if (!status.repos.length) {
      this._sync.replaceChildren(
        line('', 'Commits in ~/projects/<name> are uploaded to your workspace. Nothing synced yet.')
      );
      return;
    }
    this._sync.replaceChildren(
      ...status.repos.map(repo => {
        const item = line('coda-ServicesView-repo', `${repo.name}: ${repo.state}`);
        item.dataset.repo = repo.name;
        item.dataset.state = repo.state;
        if (repo.last_error) {
          item.append(line('coda-AgentsPanel-error', repo.last_error));
        }
        return item;
      }),
      line('coda-AgentsPanel-agentVersion', `log: ${status.log_file}`)
    );
  }
}
