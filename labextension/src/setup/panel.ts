import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { element } from '../dom';
import { ICodaAgents, PanelIDs } from '../tokens';
import { ISetupStep, SetupModel, toEpochSeconds } from './model';
import { ServicesView } from './services';

function formatSeconds(seconds: number, trans: TranslationBundle): string {
  if (seconds < 60) {
    return trans.__('%1 s', seconds.toFixed(1));
  }
  const minutes = Math.floor(seconds / 60);
  return trans.__('%1 min %2 s', minutes, Math.round(seconds - minutes * 60));
}

/**
 * The Agents sidebar: installed agents with their versions, then every setup
 * step with its state, elapsed time, error, log tail and a Retry button.
 */
export class AgentsPanel extends Widget {
  private _agentsList = element('ul', 'coda-AgentsPanel-agents');
  private _header = element('div', 'coda-AgentsPanel-header');
  private _steps = element('ul', 'coda-AgentsPanel-steps');
  private _services: ServicesView;
  private _ticker = 0;

  constructor(
    private _model: SetupModel,
    private _registry: ICodaAgents,
    private _trans: TranslationBundle
  ) {
    super();
    this.id = PanelIDs.agents;
    this.addClass('coda-AgentsPanel');
    this.title.caption = _trans.__('Coding agents: setup and status');
    this._services = new ServicesView(_trans);
    const agentsTitle = element(
      'h3',
      'coda-AgentsPanel-title',
      _trans.__('Agents')
    );
    const stepsTitle = element(
      'h3',
      'coda-AgentsPanel-title',
      _trans.__('Setup')
    );
    this.node.append(
      agentsTitle,
      this._agentsList,
      stepsTitle,
      this._header,
      this._steps,
      this._services.node
    );
    _model.changed.connect(this._render, this);
    _registry.changed.connect(this._renderAgents, this);
    this._render();
    this._renderAgents();
  }

  dispose(): void {
    window.clearInterval(this._ticker);
    this._services.dispose();
    super.dispose();
  }

  private _renderAgents(): void {
    this._agentsList.replaceChildren(
      ...this._registry.agents.map(agent => {
        const item = element('li', 'coda-AgentsPanel-agent');
        item.dataset.agent = agent.id;
        item.dataset.installed = String(agent.installed);
        item.append(
          element('span', 'coda-AgentsPanel-agentLabel', agent.label),
          element(
            'span',
            'coda-AgentsPanel-agentVersion',
            agent.installed
              ? (agent.version ?? this._trans.__('installed'))
              : this._trans.__('not installed')
          )
        );
        return item;
      })
    );
  }

  private _render(): void {
    const snapshot = this._model.snapshot;
    window.clearInterval(this._ticker);
    if (!snapshot) {
      this._header.textContent = this._model.error
        ? this._trans.__('Setup status unavailable: %1', this._model.error)
        : this._trans.__('Loading…');
      return;
    }
    const { finished, total } = this._model.counts;
    this._header.replaceChildren(
      element(
        'span',
        'coda-AgentsPanel-overall',
        `${snapshot.status} · ${finished}/${total}`
      )
    );
    this._header.dataset.status = snapshot.status;
    if (snapshot.steps.some(step => step.status === 'failed')) {
      const retryAll = element(
        'button',
        'jp-Button jp-mod-styled jp-mod-reject',
        this._trans.__('Retry failed')
      );
      retryAll.addEventListener('click', () => void this._retry());
      this._header.append(retryAll);
    }
    this._steps.replaceChildren(
      ...snapshot.steps.map(step => this._stepNode(step))
    );
    if (snapshot.steps.some(step => step.status === 'running')) {
      // Elapsed times tick between polls.
      this._ticker = window.setInterval(() => this._tick(), 1000);
    }
  }

  private _stepNode(step: ISetupStep): HTMLElement {
    const item = element('li', 'coda-AgentsPanel-step');
    item.dataset.step = step.id;
    item.dataset.status = step.status;
    const row = element('div', 'coda-AgentsPanel-stepRow');
    row.append(
      element(
        'span',
        `coda-AgentsPanel-badge coda-mod-${step.status}`,
        step.status
      ),
      element('span', 'coda-AgentsPanel-stepLabel', step.label),
      element('span', 'coda-AgentsPanel-elapsed', this._elapsed(step))
    );
    item.append(row);
    if (
      step.status === 'waiting' ||
      step.status === 'skipped' ||
      step.status === 'failed'
    ) {
      if (step.error) {
        item.append(element('div', 'coda-AgentsPanel-error', step.error));
      }
    }
    if (step.status === 'failed') {
      const retry = element(
        'button',
        'jp-Button jp-mod-styled jp-mod-accept',
        this._trans.__('Retry')
      );
      retry.addEventListener('click', () => void this._retry(step.id));
      item.append(retry);
    }
    if (step.log_tail) {
      const details = element('details', 'coda-AgentsPanel-log');
      details.append(
        element('summary', '', this._trans.__('Log')),
        element('pre', '', step.log_tail)
      );
      item.append(details);
    }
    return item;
  }

  private _elapsed(step: ISetupStep): string {
    if (step.duration_s !== null && step.status !== 'running') {
      return formatSeconds(step.duration_s, this._trans);
    }
    const started = toEpochSeconds(step.started_at);
    if (step.status === 'running' && started !== null) {
      return formatSeconds(
        Math.max(0, Date.now() / 1000 - started),
        this._trans
      );
    }
    return '';
  }

  private _tick(): void {
    for (const step of this._model.snapshot?.steps ?? []) {
      if (step.status !== 'running') {
        continue;
      }
      const node = this._steps.querySelector(
        `[data-step="${CSS.escape(step.id)}"] .coda-AgentsPanel-elapsed`
      );
      if (node) {
        node.textContent = this._elapsed(step);
      }
    }
  }

  private async _retry(step?: string): Promise<void> {
    try {
      await this._model.retry(step);
    } catch (error) {
      Notification.error(
        this._trans.__('Retry failed: %1', (error as Error).message),
        {
          autoClose: 6000
        }
      );
    }
  }
}
