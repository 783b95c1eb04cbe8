import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { agentsIcon } from '../icons';
import { ICodaAgents, PanelIDs, TRANSLATION_DOMAIN } from '../tokens';
import { SetupModel } from './model';
import { AgentsPanel } from './panel';
import { SetupStatusItem } from './status';

/** The Agents sidebar panel and the "Agents n/m" status-bar item. */
export const setupPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coda-jupyter:setup',
  description: 'Live progress of the background setup of agents and tools.',
  autoStart: true,
  requires: [ICodaAgents],
  optional: [ILayoutRestorer, IStatusBar, ITranslator],
  activate: activateSetup
};

function activateSetup(
  app: JupyterFrontEnd,
  registry: ICodaAgents,
  restorer: ILayoutRestorer | null,
  statusBar: IStatusBar | null,
  translator: ITranslator | null
): void {
  const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
  const model = new SetupModel();
  const panel = new AgentsPanel(model, registry, trans);
  panel.title.icon = agentsIcon;
  // The panel is what shows the model: its poll stops with it.
  panel.disposed.connect(() => model.dispose());
  app.shell.add(panel, 'left', { rank: 600 });
  restorer?.add(panel, PanelIDs.agents);

  // Launcher tiles flip to ready as soon as an install step finishes.
  model.stepFinished.connect(() => void registry.refresh());

  if (statusBar) {
    const item = new SetupStatusItem(model, trans, () =>
      app.shell.activateById(PanelIDs.agents)
    );
    statusBar.registerStatusItem('coda-jupyter:setup', {
      item,
      align: 'left',
      rank: 50
    });
  }
}
