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
import { ITranslator } from '@jupyterlab/translation';

import { AgentRegistry } from './agents';
import { attentionPlugin } from './attention/plugin';
import { credentialsPlugin } from './credentials/plugin';
import { notebookRelayPlugin } from './notebook/plugin';
import { sendToAgentPlugin } from './send/plugin';
import { setupPlugin } from './setup/plugin';
import { tasksPlugin } from './tasks/plugin';
import { terminalFeaturesPlugin } from './terminal/plugin';
import { ICodaAgents, ICodaTerminals, ITerminals } from './tokens';
import {
  AgentTerminalWidget,
  CORE_TERMINAL_PLUGIN,
  attachAgentTerminal,
  coreTerminalOptions,
  insertMode,
  isRefusal,
  showRefusal,
  startAgentTerminal
} from './terminals';

namespace CommandIDs {
  export const open = 'coda:open-agent';
  export const attach = 'coda:attach-agent-terminal';
}

const CATEGORY = 'Coding Agents';
const REFRESH_MS = 15000;

interface IOpenArgs {
  id: string;
  split?: boolean;
  cwd?: string;
}

const agentsPlugin: JupyterFrontEndPlugin<AgentRegistry> = {
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
  activate: async (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    terminalTracker: ITerminalTracker | null,
    fileBrowser: IDefaultFileBrowser | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    terminals: ITerminals | null
  ) => {
    const registry = new AgentRegistry();
    // Commands that label widgets wait for the first catalogue answer.
    let firstLoad: Promise<void> = Promise.resolve();
    const tracker = new WidgetTracker<AgentTerminalWidget>({
      namespace: 'coda-agent-terminal'
    });
    const terminalSettings = settingRegistry
      ? await settingRegistry.load(CORE_TERMINAL_PLUGIN).catch(() => null)
      : null;

    const track = (widget: AgentTerminalWidget, label: string): void => {
      widget.node.dataset.codaAgentLabel = label;
      void tracker.add(widget);
      // Injected (not added) so core terminal commands, settings and search act
      // on agent tabs while restoration stays with our own tracker.
      terminalTracker?.inject(widget);
      // Injected widgets are not announced: hand it to the terminal features.
      terminals?.adopt(widget);
    };

    const widgetFor = (name: string, agentId: string): AgentTerminalWidget => {
      const agent = registry.get(agentId);
      const label = agent?.label ?? agentId;
      const widget = attachAgentTerminal({
        app,
        name,
        label,
        icon: registry.icon(agentId),
        options: coreTerminalOptions(terminalSettings),
        translator: translator ?? undefined
      });
      widget.node.dataset.codaAgent = agentId;
      track(widget, label);
      return widget;
    };

    app.commands.addCommand(CommandIDs.open, {
      label: args => {
        const agent = registry.get((args as unknown as IOpenArgs).id);
        const name = agent?.label ?? String(args.id);
        if (args.split) {
          return `Open ${name} to the Right`;
        }
        if (args.isPalette || args.isMenu) {
          return `Open ${name}`;
        }
        return agent && !agent.installed ? `${name} (not installed)` : name;
      },
      caption: args => {
        const agent = registry.get(String(args.id));
        if (!agent) {
          return 'Unknown agent';
        }
        return agent.installed
          ? `${agent.label}${agent.version ? ' ' + agent.version : ''} — ${agent.executable}`
          : `${agent.label} is not installed yet: the terminal will explain how it gets installed.`;
      },
      icon: args => registry.icon(String(args.id)),
      execute: async args => {
        const { id, split } = args as unknown as IOpenArgs;
        await firstLoad;
        const cwd =
          typeof args.cwd === 'string'
            ? args.cwd
            : (fileBrowser?.model.path ?? '');
        const ref = app.shell.currentWidget?.id;
        try {
          const name = await startAgentTerminal(id, cwd);
          const widget = widgetFor(name, id);
          app.shell.add(widget, 'main', {
            mode: insertMode(Boolean(split)),
            ref: split ? ref : undefined
          });
          app.shell.activateById(widget.id);
          return widget;
        } catch (error) {
          if (isRefusal(error)) {
            // No widget was made, so no tab is left behind.
            void showRefusal(app, registry.get(id)?.label ?? id, error);
            return undefined;
          }
          Notification.error(
            `Could not open ${registry.get(id)?.label ?? id}: ${(error as Error).message}`,
            { autoClose: 8000 }
          );
          return undefined;
        }
      }
    });

    app.commands.addCommand(CommandIDs.attach, {
      label: 'Reattach Agent Terminal',
      execute: async args => {
        const name = String(args.name);
        await firstLoad;
        await app.serviceManager.terminals.refreshRunning();
        const running = [...app.serviceManager.terminals.running()].some(
          model => model.name === name
        );
        if (!running) {
          return undefined;
        }
        const widget = widgetFor(name, String(args.agent));
        app.shell.add(widget, 'main');
        return widget;
      }
    });

    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.attach,
        args: widget => ({
          name: widget.content.session.name,
          agent: widget.node.dataset.codaAgent ?? ''
        }),
        name: widget => widget.content.session.name
      });
    }

    const inPalette = new Set<string>();
    // The launcher draws a tile's label and icon only when its item list
    // changes, so tiles are removed and added again whenever the catalogue
    // (an install state, a version) changes; that redraws every open launcher.
    let tiles: ReturnType<ILauncher['add']>[] = [];
    const render = (): void => {
      tiles.forEach(tile => tile.dispose());
      tiles = [];
      registry.agents.forEach((agent, rank) => {
        if (launcher) {
          tiles.push(
            launcher.add({
              command: CommandIDs.open,
              args: { id: agent.id },
              category: CATEGORY,
              rank
            })
          );
        }
        if (inPalette.has(agent.id)) {
          return;
        }
        inPalette.add(agent.id);
        palette?.addItem({
          command: CommandIDs.open,
          args: { id: agent.id, isPalette: true },
          category: CATEGORY
        });
        palette?.addItem({
          command: CommandIDs.open,
          args: { id: agent.id, split: true },
          category: CATEGORY
        });
      });
      app.commands.notifyCommandChanged(CommandIDs.open);
    };
    registry.changed.connect(render);

    const refresh = async (): Promise<void> => {
      try {
        await registry.refresh();
      } catch (error) {
        Notification.warning(
          `Coding agents are unavailable: ${(error as Error).message}`,
          { autoClose: 5000 }
        );
      }
    };
    // Not awaited: JupyterLab's start (and its launcher) must not wait for
    // the server to probe agent versions; tiles appear when the answer does.
    firstLoad = refresh();
    // Installs finish in the background; a slow poll flips tiles to ready.
    window.setInterval(() => void refresh(), REFRESH_MS);
    return registry;
  }
};

export default [
  agentsPlugin,
  setupPlugin,
  credentialsPlugin,
  tasksPlugin,
  terminalFeaturesPlugin,
  notebookRelayPlugin,
  attentionPlugin,
  sendToAgentPlugin
];
