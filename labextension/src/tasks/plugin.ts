import {
  ILayoutRestorer,
  IRouter,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { LabIcon } from '@jupyterlab/ui-components';

import { TasksModel } from './model';
import { TasksPanel } from './panel';

const TASKS_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161"><path d="M4 5h2v2H4zm4 0h12v2H8zM4 11h2v2H4zm4 0h12v2H8zM4 17h2v2H4zm4 0h12v2H8z"/></g></svg>';

const OPEN_FROM_URL = 'coda:open-terminal-from-url';
const TERMINAL_PARAM = 'coda-terminal';

const tasksIcon = new LabIcon({ name: 'coda-jupyter:tasks-panel', svgstr: TASKS_SVG });

/** The Agent tasks sidebar panel. */
export const tasksPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coda-jupyter:tasks',
  description: 'Background agent tasks submitted over MCP, live.',
  autoStart: true,
  optional: [ILayoutRestorer, IRouter],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null, router: IRouter | null) => {
    const panel = new TasksPanel(app, new TasksModel());
    panel.title.icon = tasksIcon;
    app.shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, panel.id);

    // coda_run returns lab_url = {base}lab?coda-terminal=<name>: open that terminal.
    app.commands.addCommand(OPEN_FROM_URL, {
      execute: () => {
        const name = new URLSearchParams(router?.current.search ?? '').get(TERMINAL_PARAM);
        if (name && /^\w+$/.test(name)) {
          // Routing is part of start-up, which app.restored waits for: open
          // the terminal afterwards rather than blocking the route.
          void app.restored.then(() => app.commands.execute('terminal:open', { name }));
        }
      }
    });
    router?.register({ command: OPEN_FROM_URL, pattern: /[?&]coda-terminal=\w+/, rank: 25 });
  }
};
