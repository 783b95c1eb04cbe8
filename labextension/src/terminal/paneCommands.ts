/** The terminal commands for panes: split, move between, close and rename. */
import { CommandIDs } from '../tokens';
import type { ITerminalFeatures } from './commands';
import { NO_ARGS } from './commands';
import { focusPane, pickAgent, split, splitDirection } from './layout';

const SPLIT_AGENT_ARGS = {
  args: {
    type: 'object',
    properties: {
      direction: {
        type: 'string',
        enum: ['right', 'below'],
        description: 'Where the new pane goes (default: right)'
      },
      id: {
        type: 'string',
        description: 'The agent id from the catalogue (default: ask)'
      }
    }
  }
};

export function addSplitCommands(features: ITerminalFeatures): void {
  const { app, trans } = features;
  app.commands.addCommand(CommandIDs.splitRight, {
    label: trans.__('Split Terminal Right'),
    caption: trans.__('Open a new shell to the right of the current pane'),
    describedBy: NO_ARGS,
    execute: () => split(app, 'right')
  });
  app.commands.addCommand(CommandIDs.splitBelow, {
    label: trans.__('Split Terminal Below'),
    caption: trans.__('Open a new shell below the current pane'),
    describedBy: NO_ARGS,
    execute: () => split(app, 'below')
  });
  app.commands.addCommand(CommandIDs.splitAgent, {
    label: args =>
      splitDirection(args.direction) === 'below'
        ? trans.__('Split Below with Agent…')
        : trans.__('Split Right with Agent…'),
    caption: trans.__('Open a coding agent beside the current pane'),
    describedBy: SPLIT_AGENT_ARGS,
    execute: async args => {
      const id = typeof args.id === 'string' ? args.id : await pickAgent(trans);
      return id ? split(app, splitDirection(args.direction), id) : undefined;
    }
  });
}

export function addPaneCommands(features: ITerminalFeatures): void {
  const { app, tracker, trans, names } = features;
  const hasTerminal = (): boolean => tracker.currentWidget !== null;
  app.commands.addCommand(CommandIDs.focusNextPane, {
    label: trans.__('Focus Next Pane'),
    describedBy: NO_ARGS,
    execute: () => focusPane(app, 1)
  });
  app.commands.addCommand(CommandIDs.focusPreviousPane, {
    label: trans.__('Focus Previous Pane'),
    describedBy: NO_ARGS,
    execute: () => focusPane(app, -1)
  });
  app.commands.addCommand(CommandIDs.closePane, {
    label: trans.__('Close Terminal Pane'),
    describedBy: NO_ARGS,
    isEnabled: hasTerminal,
    execute: () => tracker.currentWidget?.close()
  });
  app.commands.addCommand(CommandIDs.renameTerminal, {
    label: trans.__('Rename Terminal…'),
    describedBy: NO_ARGS,
    isEnabled: hasTerminal,
    execute: () => {
      const widget = tracker.currentWidget;
      return widget ? names.rename(widget) : undefined;
    }
  });
}
