import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { element } from '../dom';
import { clientConfigs, IClientConfig, mcpUrl } from './clients';
import { ITaskEntry, TasksModel } from './model';

function button(label: string, onClick: () => void, title = ''): HTMLButtonElement {
  const node = element('button', 'jp-Button jp-mod-styled coda-TasksPanel-action', label);
  node.title = title;
  node.addEventListener('click', onClick);
  return node;
}

function elapsed(seconds: number): string {
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

async function showText(title: string, text: string): Promise<void> {
  const body = new Widget({ node: element('pre', 'coda-TasksPanel-text', text) });
  await showDialog({ title, body, buttons: [Dialog.okButton({ label: 'Close' })] });
}

/**
 * The Agent tasks sidebar: tasks submitted over MCP, live, with their
 * terminals, transcripts and results, plus client configs for this server.
 */
export class TasksPanel extends Widget {
  private _header = element('div', 'coda-TasksPanel-header');
  private _list = element('ul', 'coda-TasksPanel-list');

  constructor(
    private _app: JupyterFrontEnd,
    private _model: TasksModel
  ) {
    super();
    this.id = 'coda-tasks-panel';
    this.addClass('coda-TasksPanel');
    this.title.caption = 'Agent tasks (background tasks submitted over MCP)';
    this.node.append(
      element('h3', 'coda-AgentsPanel-title', 'Agent tasks'),
      this._header,
      this._list,
      this._clientsNode()
    );
    _model.changed.connect(this._render, this);
    this._render();
  }

  protected onAfterShow(): void {
    this._model.visible = true;
  }

  protected onAfterHide(): void {
    this._model.visible = false;
  }

  private _render(): void {
    const list = this._model.list;
    if (!list) {
      this._header.textContent = this._model.error
        ? `Tasks unavailable: ${this._model.error}`
        : 'Loading…';
      return;
    }
    const counts = Object.entries(list.counts)
      .map(([status, count]) => `${count} ${status}`)
      .join(' · ');
    this._header.textContent = counts
      ? `${counts} (last ${list.retention_hours} h)`
      : `No tasks in the last ${list.retention_hours} h. Submit one with the coda_run MCP tool.`;
    this._list.replaceChildren(...list.tasks.map(task => this._taskNode(task)));
  }

  private _taskNode(task: ITaskEntry): HTMLElement {
    const item = element('li', 'coda-TasksPanel-task');
    item.dataset.task = task.task_id;
    item.dataset.status = task.status;
    const row = element('div', 'coda-AgentsPanel-stepRow');
    row.append(
      element('span', `coda-AgentsPanel-badge coda-mod-${task.status === 'completed' ? 'done' : task.status}`, task.status),
      element('span', 'coda-TasksPanel-agent', task.agent),
      element('span', 'coda-AgentsPanel-elapsed', elapsed(task.elapsed_s))
    );
    item.append(row, element('div', 'coda-TasksPanel-prompt', task.prompt_summary));
    const note = task.status === 'running' ? task.progress : task.summary;
    if (note) {
      item.append(element('div', 'coda-TasksPanel-note', note));
    }
    const actions = element('div', 'coda-TasksPanel-actions');
    if (task.terminal && task.status === 'running') {
      actions.append(
        button('Terminal', () => void this._openTerminal(task), 'Watch or step in: open the task terminal')
      );
    }
    actions.append(
      button('Transcript', () => void this._showTranscript(task)),
      button('Result', () => void this._showResult(task))
    );
    if (task.status === 'running') {
      actions.append(button('Cancel', () => void this._cancel(task), 'Stop the task and its processes'));
    }
    item.append(actions);
    return item;
  }

  private async _openTerminal(task: ITaskEntry): Promise<void> {
    await this._app.commands.execute('terminal:open', { name: task.terminal ?? '' });
  }

  private async _showTranscript(task: ITaskEntry): Promise<void> {
    try {
      const text = await this._model.transcript(task.task_id);
      await showText(`Transcript of task ${task.task_id}`, text || '(empty)');
    } catch (error) {
      Notification.error(`Transcript unavailable: ${(error as Error).message}`);
    }
  }

  private async _showResult(task: ITaskEntry): Promise<void> {
    try {
      const detail = await this._model.detail(task.task_id);
      const result = detail.result ?? { status: task.status, message: 'No result yet.' };
      await showText(`Result of task ${task.task_id}`, JSON.stringify(result, null, 2));
    } catch (error) {
      Notification.error(`Result unavailable: ${(error as Error).message}`);
    }
  }

  private async _cancel(task: ITaskEntry): Promise<void> {
    const answer = await showDialog({
      title: 'Cancel task?',
      body: `Stop task ${task.task_id} (${task.agent}) and every process it started?`,
      buttons: [Dialog.cancelButton({ label: 'Keep running' }), Dialog.warnButton({ label: 'Cancel task' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await this._model.cancel(task.task_id);
    } catch (error) {
      Notification.error(`Could not cancel: ${(error as Error).message}`);
    }
  }

  private _clientsNode(): HTMLElement {
    const section = element('details', 'coda-TasksPanel-clients');
    section.append(element('summary', '', 'Connect an MCP client to this server'));
    const url = mcpUrl();
    const hint = element('p', 'coda-TasksPanel-hint', `Endpoint: ${url}.`);
    section.append(hint);
    void clientConfigs(url).then(
      ({ how, configs }) => {
        hint.textContent = `Endpoint: ${url}. Agents started in this server's terminals are connected already. ${how}`;
        section.append(...configs.map(config => this._clientNode(config)));
      },
      (error: Error) =>
        section.append(element('p', 'coda-TasksPanel-hint', `Client configs unavailable: ${error.message}`))
    );
    return section;
  }

  private _clientNode(config: IClientConfig): HTMLElement {
    const block = element('div', 'coda-TasksPanel-client');
    block.dataset.client = config.client;
    const copy = button('Copy', () => {
      void navigator.clipboard.writeText(config.snippet).then(
        () => Notification.success(`${config.client} config copied`, { autoClose: 2000 }),
        () => Notification.warning('The browser refused clipboard access')
      );
    });
    block.append(
      element('div', 'coda-TasksPanel-clientTitle', `${config.client} — ${config.where}`),
      element('pre', 'coda-TasksPanel-snippet', config.snippet),
      copy
    );
    return block;
  }
}
