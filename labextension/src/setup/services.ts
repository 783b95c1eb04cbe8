import type { TranslationBundle } from '@jupyterlab/translation';

import { requestCoda } from '../api';
import { element } from '../dom';
import { ServerPoll } from '../poll';

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
  private _poll: ServerPoll;

  constructor(private _trans: TranslationBundle) {
    this.node.className = 'coda-ServicesView';
    const gatewayTitle = line(
      'coda-AgentsPanel-title',
      _trans.__('Model gateway')
    );
    const syncTitle = line(
      'coda-AgentsPanel-title',
      _trans.__('Workspace sync')
    );
    this._gateway.className = 'coda-ServicesView-gateway';
    this._sync.className = 'coda-ServicesView-sync';
    this.node.append(gatewayTitle, this._gateway, syncTitle, this._sync);
    this._poll = new ServerPoll({
      name: 'services',
      interval: 10000,
      max: 60000,
      request: () => this._fetch()
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
    const trans = this._trans;
    if (!status) {
      this._gateway.replaceChildren(
        line('coda-AgentsPanel-error', trans.__('Gateway status unavailable'))
      );
      return;
    }
    const kind =
      status.upstream_kind === 'ai-gateway'
        ? trans.__('AI Gateway')
        : trans.__('serving endpoints');
    const upstream = status.upstream_base
      ? `${kind}: ${status.upstream_base}`
      : trans.__('no upstream yet (needs Databricks credentials)');
    const rows = [
      line(
        '',
        status.running
          ? trans.__('listening on 127.0.0.1:%1', String(status.port))
          : trans.__('not running')
      ),
      line('', upstream),
      line(
        '',
        trans.__(
          '%1 requests, %2 errors',
          status.requests_served,
          status.errors
        )
      )
    ];
    if (status.last_error) {
      const error = status.last_error;
      const detail = `${error.status ?? ''} ${error.route ?? ''} ${error.message ?? ''}`;
      rows.push(
        line(
          'coda-AgentsPanel-error',
          trans.__('last error: %1', detail.trim()).trim()
        )
      );
    }
    this._gateway.dataset.running = String(status.running);
    this._gateway.replaceChildren(...rows);
  }

  private _renderSync(status: ISyncStatus | null): void {
    const trans = this._trans;
    if (!status) {
      this._sync.replaceChildren(
        line('coda-AgentsPanel-error', trans.__('Sync status unavailable'))
      );
      return;
    }
    if (!status.repos.length) {
      this._sync.replaceChildren(
        line(
          '',
          trans.__(
            'Commits in ~/projects/<name> are uploaded to your workspace. Nothing synced yet.'
          )
        )
      );
      return;
    }
    this._sync.replaceChildren(
      ...status.repos.map(repo => {
        const item = line(
          'coda-ServicesView-repo',
          `${repo.name}: ${repo.state}`
        );
        item.dataset.repo = repo.name;
        item.dataset.state = repo.state;
        if (repo.last_error) {
          item.append(line('coda-AgentsPanel-error', repo.last_error));
        }
        return item;
      }),
      line(
        'coda-AgentsPanel-agentVersion',
        trans.__('log: %1', status.log_file)
      )
    );
  }
}
