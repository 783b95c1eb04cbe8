/**
 * The Coding Agents launcher section and the agent terminals it opens: one
 * tile (and two palette items) per agent, a command that starts an agent in a
 * new terminal, and the restoring of agent tabs after a reload.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITerminalTracker } from '@jupyterlab/terminal';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { AgentRegistry } from '../agents';
import {
  AgentTerminalWidget,
  CORE_TERMINAL_PLUGIN,
  attachAgentTerminal,
  coreTerminalOptions
} from '../terminals';
import {
  ICodaAgents,
  ICodaTerminals,
  ITerminals,
  TRANSLATION_DOMAIN
} from '../tokens';
import { addAttachCommand, addOpenCommand, restoreAgentTabs } from './commands';
import { showAgentTiles } from './tiles';

/** Makes the tab of a running agent terminal and has it tracked. */
export type AgentWidgetFactory = (
  name: string,
  agentId: string
) => AgentTerminalWidget;

export const agentsPlugin: JupyterFrontEndPlugin<ICodaAgents> = {
  id: 'coda-jupyter:agents',
  description: 'Launcher tiles and terminals for coding agents.',
  autoStart: true,
  provides: ICodaAgents,
  optional: [
    ILauncher,
    ICommandPalette,
    ILayoutRestorer,
    ITerminalTracker,
    IDefaultFileBrowser,
    ISettingRegistry,
    ITranslator,
    ICodaTerminals
  ],
  activate: activateAgents
};

async function activateAgents(
  app: JupyterFrontEnd,
  launcher: ILauncher | null,
  palette: ICommandPalette | null,
  restorer: ILayoutRestorer | null,
  terminalTracker: ITerminalTracker | null,
  fileBrowser: IDefaultFileBrowser | null,
  settingRegistry: ISettingRegistry | null,
  translator: ITranslator | null,
  terminals: ITerminals | null
): Promise<ICodaAgents> {
  const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
  // Its first request is not awaited: JupyterLab's start (and its launcher)
  // must not wait for the server to probe agent versions.
  const registry = new AgentRegistry(error =>
    Notification.warning(
      trans.__('Coding agents are unavailable: %1', error.message),
      { autoClose: 5000 }
    )
  );
  const tracker = new WidgetTracker<AgentTerminalWidget>({
    namespace: 'coda-agent-terminal'
  });
  const terminalSettings = settingRegistry
    ? await settingRegistry.load(CORE_TERMINAL_PLUGIN).catch(() => null)
    : null;

  const widgetFor: AgentWidgetFactory = (name, agentId) => {
    const label = registry.get(agentId)?.label ?? agentId;
    const widget = attachAgentTerminal({
      app,
      name,
      label,
      icon: registry.icon(agentId),
      options: coreTerminalOptions(terminalSettings),
      translator: translator ?? undefined
    });
    widget.node.dataset.codaAgent = agentId;
    widget.node.dataset.codaAgentLabel = label;
    void tracker.add(widget);
    // Injected (not added) so core terminal commands, settings and search act
    // on agent tabs while restoration stays with our own tracker.
    terminalTracker?.inject(widget);
    // Injected widgets are not announced: hand it to the terminal features.
    terminals?.adopt(widget);
    return widget;
  };

  addOpenCommand(app, registry, trans, widgetFor, fileBrowser);
  addAttachCommand(app, registry, trans, widgetFor);
  if (restorer) {
    restoreAgentTabs(restorer, tracker);
  }
  showAgentTiles(app, registry, trans, launcher, palette);
  return registry;
}
