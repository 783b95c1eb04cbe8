/** The commands that open an agent terminal and reattach one after a reload. */
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { Notification, WidgetTracker } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import type { AgentRegistry } from '../agents';
import {
  AgentTerminalWidget,
  insertMode,
  isRefusal,
  showRefusal,
  startAgentTerminal
} from '../terminals';
import { CommandIDs } from '../tokens';
import type { AgentWidgetFactory } from './plugin';

const OPEN_ARGS = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'The agent id from the catalogue' },
    split: {
      type: 'boolean',
      description: 'Open to the right of the current tab'
    },
    cwd: {
      type: 'string',
      description:
        'Folder relative to the server root (default: the file browser folder)'
    },
    isPalette: { type: 'boolean' },
    isMenu: { type: 'boolean' }
  },
  required: ['id']
};

const ATTACH_ARGS = {
  type: 'object',
  properties: {
    name: {
      type: 'string',
      description: 'The running terminal to reconnect to'
    },
    agent: { type: 'string', description: 'The agent id running in it' }
  },
  required: ['name']
};

function openLabel(
  registry: AgentRegistry,
  trans: TranslationBundle,
  args: ReadonlyPartialJSONObject
): string {
  const agent = registry.get(String(args.id));
  const name = agent?.label ?? String(args.id);
  if (args.split) {
    return trans.__('Open %1 to the Right', name);
  }
  if (args.isPalette || args.isMenu) {
    return trans.__('Open %1', name);
  }
  return agent && !agent.installed
    ? trans.__('%1 (not installed)', name)
    : name;
}

function openCaption(
  registry: AgentRegistry,
  trans: TranslationBundle,
  args: ReadonlyPartialJSONObject
): string {
  const agent = registry.get(String(args.id));
  if (!agent) {
    return trans.__('Unknown agent');
  }
  if (!agent.installed) {
    return trans.__(
      '%1 is not installed yet: the terminal will explain how it gets installed.',
      agent.label
    );
  }
  const version = agent.version ? ' ' + agent.version : '';
  return `${agent.label}${version} — ${agent.executable}`;
}

/** The open-agent command: a new terminal running the agent, in the file browser's folder. */
export function addOpenCommand(
  app: JupyterFrontEnd,
  registry: AgentRegistry,
  trans: TranslationBundle,
  widgetFor: AgentWidgetFactory,
  fileBrowser: IDefaultFileBrowser | null
): void {
  const labelOf = (id: string): string => registry.get(id)?.label ?? id;
  app.commands.addCommand(CommandIDs.openAgent, {
    label: args => openLabel(registry, trans, args),
    caption: args => openCaption(registry, trans, args),
    icon: args => registry.icon(String(args.id)),
    describedBy: { args: OPEN_ARGS },
    execute: async args => {
      const id = String(args.id);
      const split = Boolean(args.split);
      // Labels and icons come from the catalogue: wait for its first answer.
      await registry.ready;
      const cwd =
        typeof args.cwd === 'string'
          ? args.cwd
          : (fileBrowser?.model.path ?? '');
      const ref = app.shell.currentWidget?.id;
      try {
        const widget = widgetFor(await startAgentTerminal(id, cwd), id);
        app.shell.add(widget, 'main', {
          mode: insertMode(split),
          ref: split ? ref : undefined
        });
        app.shell.activateById(widget.id);
        return widget;
      } catch (error) {
        if (isRefusal(error)) {
          // No widget was made, so no tab is left behind.
          void showRefusal(app, labelOf(id), error, trans);
          return undefined;
        }
        Notification.error(
          trans.__(
            'Could not open %1: %2',
            labelOf(id),
            (error as Error).message
          ),
          { autoClose: 8000 }
        );
        return undefined;
      }
    }
  });
}

/** The attach command: the layout restorer's way back to a running agent. */
export function addAttachCommand(
  app: JupyterFrontEnd,
  registry: AgentRegistry,
  trans: TranslationBundle,
  widgetFor: AgentWidgetFactory
): void {
  app.commands.addCommand(CommandIDs.attachAgentTerminal, {
    label: trans.__('Reattach Agent Terminal'),
    describedBy: { args: ATTACH_ARGS },
    execute: async (args): Promise<AgentTerminalWidget | undefined> => {
      const name = String(args.name);
      await registry.ready;
      const terminals = app.serviceManager.terminals;
      await terminals.refreshRunning();
      if (![...terminals.running()].some(model => model.name === name)) {
        return undefined;
      }
      const widget = widgetFor(name, String(args.agent));
      // The restored layout decides which tab is in front; bringing each tab
      // forward as it comes back would count as the user looking at it.
      app.shell.add(widget, 'main', { activate: false });
      return widget;
    }
  });
}

/** After a reload, reconnect the agent tabs the layout had to their running terminals. */
export function restoreAgentTabs(
  restorer: ILayoutRestorer,
  tracker: WidgetTracker<AgentTerminalWidget>
): void {
  void restorer.restore(tracker, {
    command: CommandIDs.attachAgentTerminal,
    args: widget => ({
      name: widget.content.session.name,
      agent: widget.node.dataset.codaAgent ?? ''
    }),
    name: widget => widget.content.session.name
  });
}
