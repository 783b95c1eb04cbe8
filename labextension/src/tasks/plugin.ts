import {
  ILayoutRestorer,
  IRouter,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { WidgetTracker } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITerminalTracker } from '@jupyterlab/terminal';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';

import { CORE_TERMINAL_PLUGIN } from '../terminals';
import {
  CommandIDs,
  IAttention,
  ICodaAttention,
  ICodaTerminals,
  ITerminals,
  TRANSLATION_DOMAIN
} from '../tokens';
import { ITaskEntry, TasksModel, taskTerminal } from './model';
import { TaskOpener, TaskWidget } from './opener';
import { TasksPanel } from './panel';

const TASKS_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161"><path d="M4 5h2v2H4zm4 0h12v2H8zM4 11h2v2H4zm4 0h12v2H8zM4 17h2v2H4zm4 0h12v2H8z"/></g></svg>';

const TERMINAL_PARAM = 'coda-terminal';
// The terminal of a background task is named after it (tasks/runner.py).
const TASK_TERMINAL = /^task_([0-9a-f]{12})$/;

const tasksIcon = new LabIcon({
  name: 'coda-jupyter:tasks-panel',
  svgstr: TASKS_SVG
});

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
  const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
  const model = new TasksModel();
  const tracker = new WidgetTracker<TaskWidget>({ namespace: 'coda-task' });
  const terminalSettings = settingRegistry
    ? await settingRegistry.load(CORE_TERMINAL_PLUGIN).catch(() => null)
    : null;
  const opener = new TaskOpener({
    app,
    model,
    tracker,
    trans,
    translator,
    icon: tasksIcon,
    terminalSettings,
    terminalTracker,
    terminals,
    attention
  });
  addOpenTaskCommand(app, opener, trans);
  void restorer?.restore(tracker, {
    command: CommandIDs.openTask,
    args: widget => ({ task_id: widget.node.dataset.codaTask ?? '' }),
    name: widget => widget.node.dataset.codaTask ?? widget.id
  });

  const panel = new TasksPanel(model, trans, {
    openTask: taskId => void opener.open(taskId),
    openTranscript: taskId => void opener.openTranscript(taskId),
    attention
  });
  panel.title.icon = tasksIcon;
  // The panel is what shows the model: its poll stops with it.
  panel.disposed.connect(() => model.dispose());
  app.shell.add(panel, 'left', { rank: 650 });
  restorer?.add(panel, panel.id);
  addOpenFromUrlCommand(app, router);

  // Looking at a task's view answers its call for attention.
  app.shell.currentChanged?.connect(() => {
    const taskId = app.shell.currentWidget?.node.dataset.codaTask;
    if (taskId) {
      attention?.model.clear(taskTerminal(taskId));
    }
  });
  if (attention) {
    watchTaskChanges(model, attention, trans, id => void opener.open(id));
  }
}

function addOpenTaskCommand(
  app: JupyterFrontEnd,
  opener: TaskOpener,
  trans: TranslationBundle
): void {
  app.commands.addCommand(CommandIDs.openTask, {
    label: args => trans.__('Open Task %1', String(args.task_id ?? '')),
    describedBy: {
      args: {
        type: 'object',
        properties: { task_id: { type: 'string', pattern: '^[0-9a-f]{12}$' } },
        required: ['task_id']
      }
    },
    execute: args => {
      const taskId = String(args.task_id ?? '');
      return /^[0-9a-f]{12}$/.test(taskId) ? opener.open(taskId) : undefined;
    }
  });
}

/**
 * coda_run returns lab_url = {base}lab?coda-terminal=<name>: open that
 * terminal, or for a task, the task (its transcript once it has ended).
 */
function addOpenFromUrlCommand(
  app: JupyterFrontEnd,
  router: IRouter | null
): void {
  app.commands.addCommand(CommandIDs.openTerminalFromUrl, {
    describedBy: { args: { type: 'object', properties: {} } },
    execute: () => {
      const search = router?.current.search ?? '';
      const name = new URLSearchParams(search).get(TERMINAL_PARAM);
      if (!name || !/^\w+$/.test(name)) {
        return;
      }
      const task = TASK_TERMINAL.exec(name);
      // Routing is part of start-up, which app.restored waits for: open
      // afterwards rather than blocking the route.
      void app.restored.then(() =>
        task
          ? app.commands.execute(CommandIDs.openTask, { task_id: task[1] })
          : app.commands.execute('terminal:open', { name })
      );
    }
  });
  router?.register({
    command: CommandIDs.openTerminalFromUrl,
    pattern: /[?&]coda-terminal=\w+/,
    rank: 25
  });
}

/** A task that stops running (or is first seen already ended) raises a call for attention. */
function watchTaskChanges(
  model: TasksModel,
  attention: IAttention,
  trans: TranslationBundle,
  openTask: (taskId: string) => void
): void {
  const raiseFor = (task: ITaskEntry): void => {
    attention.raise(
      {
        terminal: task.terminal ?? taskTerminal(task.task_id),
        kind: ASKING.has(task.status) ? 'input' : 'done',
        source: 'task',
        title: trans.__('Task %1 (%2)', task.task_id, task.agent),
        body: task.summary ? `${task.status}: ${task.summary}` : task.status
      },
      () => openTask(task.task_id)
    );
  };
  let known: Map<string, string> | null = null;
  model.changed.connect(() => {
    const tasks = model.list?.tasks;
    if (!tasks) {
      return;
    }
    if (known) {
      for (const task of tasks) {
        const before = known.get(task.task_id);
        // Unseen before: started and ended between two polls.
        if (
          task.status !== 'running' &&
          (before === 'running' || before === undefined)
        ) {
          raiseFor(task);
        }
      }
    }
    known = new Map(tasks.map(task => [task.task_id, task.status]));
  });
}
