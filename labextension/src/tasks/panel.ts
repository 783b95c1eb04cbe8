import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { IAttentionState } from '../attention/model';
import { element } from '../dom';
import { IAttention, PanelIDs } from '../tokens';
import { clientConfigs, IClientConfig, mcpUrl } from './clients';
import { ITaskEntry, TasksModel, taskTerminal } from './model';

function button(
  label: string,
  onClick: () => void,
  title = ''
): HTMLButtonElement {
  const node = element(
    'button',
    'jp-Button jp-mod-styled coda-TasksPanel-action',
    label
  );
  node.title = title;
  node.addEventListener('click', onClick);
  return node;
}

function elapsed(seconds: number, trans: TranslationBundle): string {
  if (seconds < 60) {
    return trans.__('%1 s', Math.round(seconds));
  }
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? trans.__('%1 min', minutes)
    : trans.__('%1 h %2 min', Math.floor(minutes / 60), minutes % 60);
}

export interface ITaskActions {
  /** The task's terminal while it runs, its transcript view once it ended. */
  openTask(taskId: string): void;
  openTranscript(taskId: string): void;
  attention: IAttention | null;
}

async function showText(
  title: string,
  text: string,
  trans: TranslationBundle
): Promise<void> {
  const body = new Widget({
    node: element('pre', 'coda-TasksPanel-text', text)
  });
  await showDialog({
    title,
    body,
    buttons: [Dialog.okButton({ label: trans.__('Close') })]
  });
}

/**
 * The Agent tasks sidebar: tasks submitted over MCP, live, with their
 * terminals, transcripts and results, plus client configs for this server.
 */
export class TasksPanel extends Widget {
  private _header = element('div', 'coda-TasksPanel-header');
  private _list = element('ul', 'coda-TasksPanel-list');
  // Terminals (not tasks) that call for the user.
  private _attention = element('div', 'coda-TasksPanel-attention');

  constructor(
    private _model: TasksModel,
    private _trans: TranslationBundle,
    private _actions: ITaskActions
  ) {
    super();
    this.id = PanelIDs.tasks;
    this.addClass('coda-TasksPanel');
    this.title.caption = _trans.__(
      'Agent tasks (background tasks submitted over MCP)'
    );
    this.node.append(
      element('h3', 'coda-AgentsPanel-title', _trans.__('Agent tasks')),
      this._attention,
      this._header,
      this._list,
      this._clientsNode()
    );
    _model.changed.connect(this._render, this);
    _actions.attention?.model.changed.connect(this._render, this);
    this._render();
  }

  protected onAfterShow(): void {
    this._model.visible = true;
  }

  protected onAfterHide(): void {
    this._model.visible = false;
  }

  private _attentionFor(terminal: string | null): IAttentionState | undefined {
    return terminal ? this._actions.attention?.model.get(terminal) : undefined;
  }

  private _attentionLabel(state: IAttentionState): string {
    return state.kind === 'done'
      ? this._trans.__('done')
      : this._trans.__('needs input');
  }

  private _renderAttention(): void {
    const attention = this._actions.attention;
    const taskTerminals = new Set(
      (this._model.list?.tasks ?? []).map(
        task => task.terminal ?? taskTerminal(task.task_id)
      )
    );
    const states = attention
      ? [...attention.model.states.values()].filter(
          s => !taskTerminals.has(s.terminal)
        )
      : [];
    this._attention.replaceChildren(
      ...states.map(state => {
        const item = element('div', 'coda-TasksPanel-attentionItem');
        item.dataset.attentionTerminal = state.terminal;
        item.dataset.attention = state.kind;
        item.append(
          element(
            'span',
            `coda-AgentsPanel-badge coda-mod-${state.kind}`,
            this._attentionLabel(state)
          ),
          element(
            'span',
            'coda-TasksPanel-agent',
            state.title || state.terminal
          ),
          button(
            this._trans.__('Show'),
            () => {
              attention?.focus(state.terminal);
              attention?.model.clear(state.terminal);
            },
            this._trans.__('Focus terminal %1', state.terminal)
          )
        );
        if (state.body) {
          item.title = state.body;
        }
        return item;
      })
    );
  }

  private _render(): void {
    this._renderAttention();
    const list = this._model.list;
    if (!list) {
      this._header.textContent = this._model.error
        ? this._trans.__('Tasks unavailable: %1', this._model.error)
        : this._trans.__('Loading…');
      return;
    }
    const counts = Object.entries(list.counts)
      .map(([status, count]) => `${count} ${status}`)
      .join(' · ');
    this._header.textContent = counts
      ? this._trans.__('%1 (last %2 h)', counts, list.retention_hours)
      : this._trans.__(
          'No tasks in the last %1 h. Submit one with the coda_run MCP tool.',
          list.retention_hours
        );
    this._list.replaceChildren(...list.tasks.map(task => this._taskNode(task)));
  }

  private _taskNode(task: ITaskEntry): HTMLElement {
    const item = element('li', 'coda-TasksPanel-task');
    item.dataset.task = task.task_id;
    item.dataset.status = task.status;
    const row = element('div', 'coda-AgentsPanel-stepRow');
    row.append(
      element(
        'span',
        `coda-AgentsPanel-badge coda-mod-${task.status === 'completed' ? 'done' : task.status}`,
        task.status
      ),
      element('span', 'coda-TasksPanel-agent', task.agent),
      element(
        'span',
        'coda-AgentsPanel-elapsed',
        elapsed(task.elapsed_s, this._trans)
      )
    );
    const called = this._attentionFor(
      task.terminal ?? taskTerminal(task.task_id)
    );
    if (called) {
      item.dataset.attention = called.kind;
      row.append(
        element(
          'span',
          `coda-AgentsPanel-badge coda-mod-${called.kind} coda-TasksPanel-attentionBadge`,
          this._attentionLabel(called)
        )
      );
    }
    item.append(
      row,
      element('div', 'coda-TasksPanel-prompt', task.prompt_summary)
    );
    const note = task.status === 'running' ? task.progress : task.summary;
    if (note) {
      item.append(element('div', 'coda-TasksPanel-note', note));
    }
    item.append(this._actionsNode(task));
    return item;
  }

  private _actionsNode(task: ITaskEntry): HTMLElement {
    const trans = this._trans;
    const actions = element('div', 'coda-TasksPanel-actions');
    if (task.terminal && task.status === 'running') {
      actions.append(
        button(
          trans.__('Terminal'),
          () => this._actions.openTask(task.task_id),
          trans.__('Watch or step in: open the task terminal')
        )
      );
    }
    actions.append(
      // The same read-only view a finished task's lab_url opens.
      button(
        trans.__('Transcript'),
        () => this._actions.openTranscript(task.task_id),
        trans.__('Read what the agent printed')
      ),
      button(trans.__('Result'), () => void this._showResult(task))
    );
    if (task.status === 'running') {
      actions.append(
        button(
          trans.__('Cancel'),
          () => void this._cancel(task),
          trans.__('Stop the task and its processes')
        )
      );
    }
    return actions;
  }

  private async _showResult(task: ITaskEntry): Promise<void> {
    const trans = this._trans;
    try {
      const detail = await this._model.detail(task.task_id);
      const result = detail.result ?? {
        status: task.status,
        message: trans.__('No result yet.')
      };
      await showText(
        trans.__('Result of task %1', task.task_id),
        JSON.stringify(result, null, 2),
        trans
      );
    } catch (error) {
      Notification.error(
        trans.__('Result unavailable: %1', (error as Error).message)
      );
    }
  }

  private async _cancel(task: ITaskEntry): Promise<void> {
    const trans = this._trans;
    const answer = await showDialog({
      title: trans.__('Cancel task?'),
      body: trans.__(
        'Stop task %1 (%2) and every process it started?',
        task.task_id,
        task.agent
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Keep running') }),
        Dialog.warnButton({ label: trans.__('Cancel task') })
      ]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await this._model.cancel(task.task_id);
    } catch (error) {
      Notification.error(
        trans.__('Could not cancel: %1', (error as Error).message)
      );
    }
  }

  private _clientsNode(): HTMLElement {
    const trans = this._trans;
    const section = element('details', 'coda-TasksPanel-clients');
    section.append(
      element('summary', '', trans.__('Connect an MCP client to this server'))
    );
    const url = mcpUrl();
    const hint = element(
      'p',
      'coda-TasksPanel-hint',
      trans.__('Endpoint: %1.', url)
    );
    section.append(hint);
    void clientConfigs(url, trans).then(
      ({ how, configs }) => {
        hint.textContent = trans.__(
          "Endpoint: %1. Agents started in this server's terminals are connected already. %2",
          url,
          how
        );
        section.append(...configs.map(config => this._clientNode(config)));
      },
      (error: Error) =>
        section.append(
          element(
            'p',
            'coda-TasksPanel-hint',
            trans.__('Client configs unavailable: %1', error.message)
          )
        )
    );
    return section;
  }

  private _clientNode(config: IClientConfig): HTMLElement {
    const trans = this._trans;
    const block = element('div', 'coda-TasksPanel-client');
    block.dataset.client = config.client;
    const copy = button(trans.__('Copy'), () => {
      void navigator.clipboard.writeText(config.snippet).then(
        () =>
          Notification.success(trans.__('%1 config copied', config.client), {
            autoClose: 2000
          }),
        () =>
          Notification.warning(trans.__('The browser refused clipboard access'))
      );
    });
    block.append(
      element(
        'div',
        'coda-TasksPanel-clientTitle',
        `${config.client} — ${config.where}`
      ),
      element('pre', 'coda-TasksPanel-snippet', config.snippet),
      copy
    );
    return block;
  }
}
