/**
 * "Send to Agent…" on notebook cells, files in the file browser and error
 * outputs: the user picks an agent terminal (or a new agent) and a prompt
 * naming what they pointed at is typed into it.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Cell } from '@jupyterlab/cells';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, Notebook } from '@jupyterlab/notebook';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';

import { CommandIDs, ICodaAgents, TRANSLATION_DOMAIN } from '../tokens';
import { SendContext, promptFor } from './prompt';
import { chooseTarget, deliver } from './target';

const ERROR_OUTPUT =
  '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]';

function selectedCells(notebook: Notebook): { id: string; index: number }[] {
  const cells: { id: string; index: number }[] = [];
  notebook.widgets.forEach((cell, index) => {
    if (notebook.isSelectedOrActive(cell)) {
      cells.push({ id: cell.model.id, index });
    }
  });
  return cells;
}

/** The cell under the context menu's click, or the active one. */
function clickedCell(app: JupyterFrontEnd, notebook: Notebook): Cell | null {
  const node = app.contextMenuHitTest(element =>
    element.classList.contains('jp-Cell')
  );
  return (
    notebook.widgets.find(cell => cell.node === node) ?? notebook.activeCell
  );
}

/** The first error output of `cell`, as the kernel reported it. */
function errorOf(cell: Cell): { ename: string; evalue: string } | null {
  const outputs = (cell.model as { outputs?: { toJSON(): unknown[] } }).outputs;
  for (const output of outputs?.toJSON() ?? []) {
    const value = output as {
      output_type?: string;
      ename?: string;
      evalue?: string;
    };
    if (value.output_type === 'error') {
      return { ename: value.ename ?? 'Error', evalue: value.evalue ?? '' };
    }
  }
  return null;
}

export const sendToAgentPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coda-jupyter:send-to-agent',
  description:
    'Send notebook cells, files or an error to a coding agent, as a prompt that names them.',
  autoStart: true,
  requires: [ICodaAgents],
  optional: [INotebookTracker, IDefaultFileBrowser, ITranslator],
  activate: activateSendToAgent
};

/** What each command sends: the context it names, or null when there is nothing to send. */
interface ISendContexts {
  cells(): SendContext | null;
  error(): SendContext | null;
  files(): SendContext | null;
}

// None of the send commands takes arguments: each reads the current selection.
const NO_ARGS = { args: { type: 'object', properties: {} } };

function activateSendToAgent(
  app: JupyterFrontEnd,
  registry: ICodaAgents,
  notebooks: INotebookTracker | null,
  fileBrowser: IDefaultFileBrowser | null,
  translator: ITranslator | null
): void {
  const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
  const send = async (context: SendContext | null): Promise<void> => {
    if (!context) {
      return;
    }
    const text = promptFor(context);
    const target = await chooseTarget(app, registry, trans, text);
    if (target) {
      await deliver(app, target, text);
    }
  };
  const contexts = sendContexts(app, notebooks, fileBrowser);
  addSendCommands(app, trans, send, contexts, notebooks, fileBrowser);
  app.contextMenu.addItem({
    command: CommandIDs.sendErrorToAgent,
    selector: ERROR_OUTPUT,
    rank: 0
  });
  app.contextMenu.addItem({
    command: CommandIDs.sendCellsToAgent,
    selector: '.jp-Notebook .jp-Cell',
    rank: 12
  });
  app.contextMenu.addItem({
    command: CommandIDs.sendFilesToAgent,
    selector: '.jp-DirListing-item[data-isdir]',
    rank: 12
  });
}

function sendContexts(
  app: JupyterFrontEnd,
  notebooks: INotebookTracker | null,
  fileBrowser: IDefaultFileBrowser | null
): ISendContexts {
  return {
    cells: () => {
      const panel = notebooks?.currentWidget;
      if (!panel) {
        return null;
      }
      const cells = selectedCells(panel.content);
      return cells.length
        ? { kind: 'cells', path: panel.context.path, cells }
        : null;
    },
    error: () => {
      const panel = notebooks?.currentWidget;
      const cell = panel ? clickedCell(app, panel.content) : null;
      const error = cell ? errorOf(cell) : null;
      if (!panel || !cell || !error) {
        return null;
      }
      const index = panel.content.widgets.indexOf(cell);
      return {
        kind: 'error',
        path: panel.context.path,
        cell: { id: cell.model.id, index },
        ...error
      };
    },
    files: () => {
      const paths = [...(fileBrowser?.selectedItems() ?? [])].map(
        item => item.path
      );
      return paths.length ? { kind: 'files', paths } : null;
    }
  };
}

function addSendCommands(
  app: JupyterFrontEnd,
  trans: TranslationBundle,
  send: (context: SendContext | null) => Promise<void>,
  contexts: ISendContexts,
  notebooks: INotebookTracker | null,
  fileBrowser: IDefaultFileBrowser | null
): void {
  app.commands.addCommand(CommandIDs.sendCellsToAgent, {
    label: trans.__('Send to Agent…'),
    caption: trans.__(
      'Type a prompt naming the selected cells into an agent terminal'
    ),
    describedBy: NO_ARGS,
    isEnabled: () => !!notebooks?.currentWidget,
    execute: () => send(contexts.cells())
  });
  app.commands.addCommand(CommandIDs.sendErrorToAgent, {
    label: trans.__('Send Error to Agent…'),
    caption: trans.__(
      'Ask an agent to find the cause of this error and fix it'
    ),
    describedBy: NO_ARGS,
    isEnabled: () => !!notebooks?.currentWidget,
    execute: () => send(contexts.error())
  });
  app.commands.addCommand(CommandIDs.sendFilesToAgent, {
    label: trans.__('Send to Agent…'),
    caption: trans.__(
      'Type a prompt naming these files into an agent terminal'
    ),
    describedBy: NO_ARGS,
    isEnabled: () => !!fileBrowser,
    execute: () => send(contexts.files())
  });
}
