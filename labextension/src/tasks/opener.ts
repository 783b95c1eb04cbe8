/**
 * Opens a background task in the main area: its terminal while it runs, its
 * read-only transcript once it has ended, and never a second tab for a task
 * that already has one.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITerminalTracker } from '@jupyterlab/terminal';
import type { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import type { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { CodaAPIError } from '../api';
import {
  AgentTerminalWidget,
  attachAgentTerminal,
  coreTerminalOptions
} from '../terminals';
import type { IAttention, ITerminals } from '../tokens';
import { TasksModel, taskTerminal } from './model';
import { transcriptWidget } from './view';

export type TaskWidget = MainAreaWidget<Widget>;

export interface ITaskOpenerOptions {
  app: JupyterFrontEnd;
  model: TasksModel;
  tracker: WidgetTracker<TaskWidget>;
  trans: TranslationBundle;
  translator: ITranslator | null;
  icon: LabIcon;
  terminalSettings: ISettingRegistry.ISettings | null;
  terminalTracker: ITerminalTracker | null;
  terminals: ITerminals | null;
  attention: IAttention | null;
}

export class TaskOpener {
  // One opening per task at a time: the restorer and the URL route may both ask.
  private _opening = new Map<string, Promise<TaskWidget | undefined>>();

  constructor(private _options: ITaskOpenerOptions) {}

  open(taskId: string): Promise<TaskWidget | undefined> {
    let pending = this._opening.get(taskId);
    if (!pending) {
      pending = this._openNow(taskId).finally(() =>
        this._opening.delete(taskId)
      );
      this._opening.set(taskId, pending);
    }
    return pending;
  }

  openTranscript(taskId: string): TaskWidget {
    const { tracker, model, trans } = this._options;
    const existing = tracker.find(
      w => w.id === `coda-task-transcript-${taskId}` && !w.isDisposed
    );
    const widget = existing ?? transcriptWidget(taskId, model, trans);
    this._show(widget, taskId);
    return widget;
  }

  private _show(widget: TaskWidget, taskId: string): void {
    const { app, tracker, attention } = this._options;
    widget.node.dataset.codaTask = taskId;
    if (!widget.isAttached) {
      app.shell.add(widget, 'main');
    }
    void tracker.add(widget);
    app.shell.activateById(widget.id);
    attention?.model.clear(taskTerminal(taskId));
  }

  /**
   * Never `terminal:open` with the task's name: for a terminal that is gone,
   * JupyterLab would create an empty shell under that name.
   */
  private async _openNow(taskId: string): Promise<TaskWidget | undefined> {
    const open = this._options.tracker.find(
      w => w.node.dataset.codaTask === taskId && !w.isDisposed
    );
    if (open) {
      this._show(open, taskId);
      return open;
    }
    const status = await this._status(taskId);
    if (status === null) {
      return undefined;
    }
    if (status !== 'running' || !(await this._running(taskTerminal(taskId)))) {
      return this.openTranscript(taskId);
    }
    return this._openTerminal(taskId);
  }

  /** The task's status, or null (and a notification) when it cannot be had. */
  private async _status(taskId: string): Promise<string | null> {
    const trans = this._options.trans;
    try {
      return String((await this._options.model.detail(taskId)).status ?? '');
    } catch (error) {
      const gone = error instanceof CodaAPIError && error.status === 404;
      Notification.error(
        gone
          ? trans.__(
              'Task %1 is not kept any more (past its retention).',
              taskId
            )
          : trans.__(
              'Task %1 is unavailable: %2',
              taskId,
              (error as Error).message
            ),
        { autoClose: 8000 }
      );
      return null;
    }
  }

  private async _running(name: string): Promise<boolean> {
    const terminals = this._options.app.serviceManager.terminals;
    await terminals.refreshRunning();
    return [...terminals.running()].some(m => m.name === name);
  }

  private _openTerminal(taskId: string): TaskWidget {
    const { app, translator, icon, terminalSettings } = this._options;
    const name = taskTerminal(taskId);
    const widget = attachAgentTerminal({
      app,
      name,
      label: name,
      icon,
      options: coreTerminalOptions(terminalSettings),
      translator: translator ?? undefined
    });
    this._replaceWhenDone(widget, taskId);
    this._show(widget as unknown as TaskWidget, taskId);
    // Terminal features and attention apply to it like to any terminal; it
    // is not added there, so the core restorer never reopens it by name.
    this._options.terminalTracker?.inject(widget);
    this._options.terminals?.adopt(widget);
    return widget as unknown as TaskWidget;
  }

  /** The agent exited: show what it printed in place of the closed terminal. */
  private _replaceWhenDone(widget: AgentTerminalWidget, taskId: string): void {
    const { app, model, trans, tracker } = this._options;
    widget.content.session.messageReceived.connect((_, message) => {
      if (message.type !== 'disconnect') {
        return;
      }
      const transcript = transcriptWidget(taskId, model, trans);
      transcript.node.dataset.codaTask = taskId;
      app.shell.add(
        transcript,
        'main',
        widget.isDisposed ? {} : { ref: widget.id, mode: 'tab-after' }
      );
      void tracker.add(transcript);
      if (!widget.isDisposed) {
        widget.dispose();
      }
    });
  }
}
