/** The Coding Agents launcher section and the palette items, redrawn as the catalogue changes. */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';

import type { AgentRegistry } from '../agents';
import { CommandIDs } from '../tokens';

export function showAgentTiles(
  app: JupyterFrontEnd,
  registry: AgentRegistry,
  trans: TranslationBundle,
  launcher: ILauncher | null,
  palette: ICommandPalette | null
): void {
  const category = trans.__('Coding Agents');
  const inPalette = new Set<string>();
  // The launcher draws a tile's label and icon only when its item list
  // changes, so tiles are removed and added again whenever the catalogue
  // (an install state, a version) changes; that redraws every open launcher.
  let tiles: IDisposable[] = [];
  const render = (): void => {
    tiles.forEach(tile => tile.dispose());
    tiles = [];
    registry.agents.forEach((agent, rank) => {
      const args = { id: agent.id };
      if (launcher) {
        tiles.push(
          launcher.add({ command: CommandIDs.openAgent, args, category, rank })
        );
      }
      if (!palette || inPalette.has(agent.id)) {
        return;
      }
      inPalette.add(agent.id);
      palette.addItem({
        command: CommandIDs.openAgent,
        args: { ...args, isPalette: true },
        category
      });
      palette.addItem({
        command: CommandIDs.openAgent,
        args: { ...args, split: true },
        category
      });
    });
    app.commands.notifyCommandChanged(CommandIDs.openAgent);
  };
  registry.changed.connect(render);
}
