import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IStatusBar } from '@jupyterlab/statusbar';

import { AgentRegistry } from '../agents';
import { agentsIcon } from '../icons';
import { ICodaAgents } from '../tokens';
import { SetupModel } from './model';
import { AgentsPanel } from './panel';
import { SetupStatusItem } from './status';

export const SETUP_PANEL_ID = 'coda-agents-panel';

/** The Agents sidebar panel and the "Agents n/m" status-bar item. */
export const setupPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coda-jupyter:setup',
  description: 'Live progress of the background setup of agents and tools.',
  autoStart: true,
  requires: [ICodaAgents],
  optional: [ILayoutRestorer, IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    registry: AgentRegistry,
    restorer: ILayoutRestorer | null,
    statusBar: IStatusBar | null
  ) => {
    const model = new SetupModel();
    const panel = new AgentsPanel(model, registry);
    panel.title.icon = agentsIcon;
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, SETUP_PANEL_ID);

    // Launcher tiles flip to ready as soon as an install step finishes.
    model.stepFinished.connect(() => void registry.refresh());

    if (statusBar) {
      const item = new SetupStatusItem(model, () =>
        app.shell.activateById(SETUP_PANEL_ID)
      );
      statusBar.registerStatusItem('coda-jupyter:setup', {
        item,
        align: 'left',
        rank: 50
      });
    }
  }
};
