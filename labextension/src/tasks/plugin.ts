import {
  ILayoutRestorer,
  IRouter,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { MainAreaWidget, Notification, WidgetTracker } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITerminalTracker } from '@jupyterlab/terminal';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { CodaAPIError } from '../api';
import { attachAgentTerminal, coreTerminalOptions, CORE_TERMINAL_PLUGIN } from '../terminals';
import { IAttention, ICodaAttention, ICodaTerminals, ITerminals } from '../tokens';
import { ITaskEntry, TasksModel } from './model';
import { TasksPanel } from './panel';
import { transcriptWidget } from './view';

const TASKS_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161"><path d="M4 5h2v2H4zm4 0h12v2H8zM4 11h2v2H4zm4 0h12v2H8zM4 17h2v2H4zm4 0h12v2H8z"/></g></svg>';

const OPEN_FROM_URL = 'coda:open-terminal-from-url';
export const OPEN_TASK = 'coda:open-task';
const TERMINAL_PARAM = 'coda-terminal';
// The terminal of a background task is named after it (tasks/runner.py).
const TASK_TERMINAL = /^task_([0-9a-f]{12})$/;

const tasksIcon = new LabIcon({ name: 'coda-jupyter:tasks-panel', svgstr: TASKS_SVG });

/** Statuses with which a task waits for the user rather than being done. */
const ASKING = new Set(['info_needed', 'needs_approval']);

/** The Agent tasks sidebar panel, task views, and task changes as calls for attention. */
export const tasksPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coda-jupyter:tasks',
  description: 'Background agent tasks submitted over MCP, live.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    IRouter,
    ITerminalTracker,
    ISettingRegistry,
    ITranslator,
    ICodaAttention,
    ICodaTerminals
  ],
  activate: activateTasks
};

async function activateTasks(
  app: JupyterFrontEnd,
  restorer: ILayoutRestorer | null,
  router: IRouter | null,
  terminalTracker: ITerminalTracker | null,
  settingRegistry: ISettingRegistry | null,
  translator: ITranslator | null,
  attention: IAttention | null,
  terminals: ITerminals | null
): Promise<void> {
  const trans = (translator ?? nullTranslator).load('coda_jupyter');
  const model = new TasksModel();
  const tracker = new WidgetTracker<MainAreaWidget<Widget>>({ namespace: 'coda-task' });
  const terminalSettings = settingRegistry
    ? await settingRegistry.load(CORE_TERMINAL_PLUGIN).catch(() => null)
    : null;

  const terminalRunning = async (name: string): Promise<boolean> => {
    await app.serviceManager.terminals.refreshRunning();
    return [...app.serviceManager.terminals.running()].some(m => m.name === name);
  };

  const show = (widget: MainAreaWidget<Widget>, taskId: string): void => {
    widget.node.dataset.codaTask = taskId;
    if (!widget.isAttached) {
      app.shell.add(widget, 'main');
    }
    void tracker.add(widget);
    app.shell.activateById(widget.id);
    attention?.model.clear(`task_${taskId}`);
  };

  const openTranscript = (taskId: string): MainAreaWidget<Widget> => {
    const existing = tracker.find(
      w => w.id === `coda-task-transcript-${taskId}` && !w.isDisposed
    );
    const widget = existing ?? transcriptWidget(taskId, model, trans);
    show(widget, taskId);
    return widget;
  };

  // One opening per task at a time: the restorer and the URL route may both ask.
  const opening = new Map<string, Promise<MainAreaWidget<Widget> | undefined>>();
  const openTask = (taskId: string): Promise<MainAreaWidget<Widget> | undefined> => {
    let pending = opening.get(taskId);
    if (!pending) {
      pending = openTaskNow(taskId).finally(() => opening.delete(taskId));
      opening.set(taskId, pending);
    }
    return pending;
  };

  /**
   * A task's terminal while it runs, its transcript once it has ended. Never
   * `terminal:open` with the task's name: for a terminal that is gone,
   * JupyterLab would create an empty shell under that name.
   */
  const openTaskNow = async (taskId: string): Promise<MainAreaWidget<Widget> | undefined> => {
    const name = `task_${taskId}`;
    const open = tracker.find(w => w.node.dataset.codaTask === taskId && !w.isDisposed);
    if (open) {
      show(open, taskId);
      return open;
    }
    let status: string;
    try {
      status = String((await model.detail(taskId)).status ?? '');
    } catch (error) {
      const gone = error instanceof CodaAPIError && error.status === 404;
      Notification.error(
        gone
          ? trans.__('Task %1 is not kept any more (past its retention).', taskId)
          : trans.__('Task %1 is unavailable: %2', taskId, (error as Error).message),
        { autoClose: 8000 }
      );
      return undefined;
    }
    if (status !== 'running' || !(await terminalRunning(name))) {
      return openTranscript(taskId);
    }
    const widget = attachAgentTerminal({
      app,
      name,
      label: name,
      icon: tasksIcon,
      options: coreTerminalOptions(terminalSettings),
      translator: translator ?? undefined
    });
    // The agent exited: show what it printed in place of the closed terminal.
    widget.content.session.messageReceived.connect((_, message) => {
      if (message.type === 'disconnect') {
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
      }
    });
    show(widget as unknown as MainAreaWidget<Widget>, taskId);
    // Terminal features and attention apply to it like to any terminal; it
    // is not added there, so the core restorer never reopens it by name.
    terminalTracker?.inject(widget);
    terminals?.adopt(widget);
    return widget as unknown as MainAreaWidget<Widget>;
  };

  app.commands.addCommand(OPEN_TASK, {
    label: args => trans.__('Open Task %1', String(args.task_id ?? '')),
    execute: args => {
      const taskId = String(args.task_id ?? '');
      return /^[0-9a-f]{12}$/.test(taskId) ? openTask(taskId) : undefined;
    }
  });

  if (restorer) {
    void restorer.restore(tracker, {
      command: OPEN_TASK,
      args: widget => ({ task_id: widget.node.dataset.codaTask ?? '' }),
      name: widget => widget.node.dataset.codaTask ?? widget.id
    });
  }

  const panel = new TasksPanel(model, trans, {
    openTask: taskId => void openTask(taskId),
    openTranscript: taskId => void openTranscript(taskId),
    attention
  });
  panel.title.icon = tasksIcon;
  app.shell.add(panel, 'left', { rank: 650 });
  restorer?.add(panel, panel.id);

  // coda_run returns lab_url = {base}lab?coda-terminal=<name>: open that
  // terminal, or for a task, the task (its transcript once it has ended).
  app.commands.addCommand(OPEN_FROM_URL, {
    execute: () => {
      const name = new URLSearchParams(router?.current.search ?? '').get(TERMINAL_PARAM);
      if (!name || !/^\w+$/.test(name)) {
        return;
      }
      const task = TASK_TERMINAL.exec(name);
      // Routing is part of start-up, which app.restored waits for: open
      // afterwards rather than blocking the route.
      void app.restored.then(() =>
        task
          ? app.commands.execute(OPEN_TASK, { task_id: task[1] })
          : app.commands.execute('terminal:open', { name })
      );
    }
  });
  router?.register({ command: OPEN_FROM_URL, pattern: /[?&]coda-terminal=\w+/, rank: 25 });

  // Looking at a task's view answers its call for attention.
  app.shell.currentChanged?.connect(() => {
    const taskId = app.shell.currentWidget?.node.dataset.codaTask;
    if (taskId) {
      attention?.model.clear(`task_${taskId}`);
    }
  });

  if (attention) {
    watchTaskChanges(model, attention, trans, taskId => void openTask(taskId));
  }
}

/** A task that stops running (or is first seen already ended) raises a call for attention. */
function watchTaskChanges(
  model: TasksModel,
  attention: IAttention,
  trans: TranslationBundle,
  openTask: (taskId: string) => void
): void {
  let known: Map<string, string> | null = null;
  model.changed.connect(() => {
    const tasks = model.list?.tasks;
    if (!tasks) {
      return;
    }
    const now = new Map(tasks.map(task => [task.task_id, task.status]));
    if (known) {
      for (const task of tasks) {
        const before = known.get(task.task_id);
        // Unseen before: started and ended between two polls.
        if (task.status !== 'running' && (before === 'running' || before === undefined)) {
          raiseFor(task);
        }
      }
    }
    known = now;
  });

  const raiseFor = (task: ITaskEntry): void => {
    attention.raise(
      {
        terminal: task.terminal ?? `task_${task.task_id}`,
        kind: ASKING.has(task.status) ? 'input' : 'done',
        source: 'task',
        title: trans.__('Task %1 (%2)', task.task_id, task.agent),
        body: task.summary ? `${task.status}: ${task.summary}` : task.status
      },
      () => openTask(task.task_id)
    );
  };
}
