import { CodeCell } from '@jupyterlab/cells';
import {
  INotebookModel,
  INotebookTracker,
  NotebookPanel
} from '@jupyterlab/notebook';
import { UUID } from '@lumino/coreutils';

import { requestCoda } from '../api';
import { CoalescedSave } from './saver';

/** Seconds a poll waits on the server for a command. */
const WAIT_S = 25;
/** After a failed poll (server restarting, network gone), try again this much later. */
const RETRY_MS = 3000;
/** Agent changes are saved once they pause this long (one save for a burst)... */
const SAVE_QUIET_MS = 300;
/** ...and at the latest this long after the first unsaved one. */
const SAVE_MAX_DELAY_MS = 3000;

/** A notebook-tool call the server hands to the page that holds the notebook. */
interface ICommand {
  id: number;
  op: 'read' | 'insert' | 'edit' | 'delete' | 'execute';
  path: string;
  index?: number | null;
  cell_id?: string | null;
  source?: string;
  cell_type?: 'code' | 'markdown' | 'raw';
}

type Result = Record<string, unknown>;

/**
 * The page's side of coda's notebook relay: it long-polls the server with the
 * paths of the notebooks open here, applies each command to the live notebook
 * model (so the user sees it at once, and the file is written by this page's
 * own save, never behind its back) and runs cells through the notebook's
 * session context, in the kernel the user sees.
 */
export class NotebookRelay {
  private readonly client = UUID.uuid4();
  private readonly savers = new Map<NotebookPanel, CoalescedSave>();

  constructor(private readonly tracker: INotebookTracker) {
    // The server learns of a newly opened (or renamed) notebook at once,
    // not only with the next long poll.
    tracker.widgetAdded.connect((_, panel) => {
      panel.context.pathChanged.connect(() => void this.poll(0));
      panel.disposed.connect(() => {
        this.savers.get(panel)?.dispose();
        this.savers.delete(panel);
        void this.poll(0);
      });
      void this.poll(0);
    });
  }

  /**
   * Poll for ever; never throws. Not a `ServerPoll`: this long poll is paced by
   * the server's wait, and it must go on while the page is hidden, because
   * agents edit notebooks that sit in a background tab.
   */
  async run(): Promise<void> {
    for (;;) {
      const ok = await this.poll(WAIT_S);
      if (!ok) {
        await new Promise(resolve => window.setTimeout(resolve, RETRY_MS));
      }
    }
  }

  private openPaths(): string[] {
    const paths: string[] = [];
    this.tracker.forEach(panel => {
      if (!panel.isDisposed) {
        paths.push(panel.context.path);
      }
    });
    return paths;
  }

  private async poll(wait: number): Promise<boolean> {
    try {
      const reply = await requestCoda<{ commands: ICommand[] }>(
        'api/notebooks/relay/poll',
        {
          method: 'POST',
          body: JSON.stringify({
            client: this.client,
            open: this.openPaths(),
            wait
          })
        }
      );
      for (const command of reply.commands) {
        void this.handle(command);
      }
      return true;
    } catch {
      return false;
    }
  }

  private async handle(command: ICommand): Promise<void> {
    let body: Record<string, unknown>;
    try {
      body = { ok: true, result: await this.apply(command) };
    } catch (error) {
      body = { ok: false, error: (error as Error).message || String(error) };
    }
    try {
      await requestCoda('api/notebooks/relay/reply', {
        method: 'POST',
        body: JSON.stringify({ client: this.client, id: command.id, ...body })
      });
    } catch {
      // The tool call gave up waiting (or the server restarted): nothing to tell.
    }
  }

  private async apply(command: ICommand): Promise<Result> {
    const panel = this.tracker.find(
      widget => !widget.isDisposed && widget.context.path === command.path
    );
    if (!panel) {
      throw new Error(`${command.path} is no longer open in the browser`);
    }
    await panel.context.ready;
    const model = panel.content.model;
    if (!model) {
      throw new Error(`${command.path} has no notebook model`);
    }
    switch (command.op) {
      case 'read':
        return model.toJSON() as unknown as Result;
      case 'insert':
        return this.saved(panel, insert(model, command));
      case 'edit': {
        const at = position(model, command);
        const cell = model.cells.get(at);
        cell.sharedModel.setSource(command.source ?? '');
        return this.saved(panel, { cell_id: cell.id, index: at });
      }
      case 'delete': {
        const at = position(model, command);
        const id = model.cells.get(at).id;
        model.sharedModel.deleteCell(at);
        return this.saved(panel, {
          cell_id: id,
          index: at,
          cells: model.cells.length
        });
      }
      case 'execute':
        return this.saved(panel, await execute(panel, model, command));
      default:
        throw new Error(`unknown notebook op ${String(command.op)}`);
    }
  }

  /**
   * The page saves what the agent changed, as it saves the user's own edits:
   * soon, coalesced, and never before the reply (see `CoalescedSave`).
   */
  private saved(panel: NotebookPanel, result: Result): Result {
    let saver = this.savers.get(panel);
    if (!saver) {
      saver = new CoalescedSave(
        async () => {
          // Not skipped when the model looks clean: JupyterLab marks it clean
          // when a save ends, even one that began before the latest change.
          if (!panel.isDisposed) {
            await panel.context.save();
          }
        },
        SAVE_QUIET_MS,
        SAVE_MAX_DELAY_MS
      );
      this.savers.set(panel, saver);
    }
    saver.request();
    return result;
  }
}

function position(model: INotebookModel, command: ICommand): number {
  const count = model.cells.length;
  if (command.cell_id) {
    for (let at = 0; at < count; at++) {
      if (model.cells.get(at).id === command.cell_id) {
        return at;
      }
    }
    throw new Error(
      `no cell with id '${command.cell_id}': read the notebook again for current ids`
    );
  }
  const index = command.index ?? -1;
  if (index < 0 || index >= count) {
    throw new Error(
      `index ${index} is out of range: the notebook has ${count} cells`
    );
  }
  return index;
}

function insert(model: INotebookModel, command: ICommand): Result {
  const count = model.cells.length;
  const index = command.index ?? -1;
  const at = index === -1 ? count : index;
  if (at < 0 || at > count) {
    throw new Error(
      `index ${index} is out of range: use 0..${count}, or -1 to append`
    );
  }
  const cell = model.sharedModel.insertCell(at, {
    cell_type: command.cell_type ?? 'code',
    source: command.source ?? ''
  });
  return { cell_id: cell.id, index: at, cells: model.cells.length };
}

async function execute(
  panel: NotebookPanel,
  model: INotebookModel,
  command: ICommand
): Promise<Result> {
  const at = position(model, command);
  const widget = panel.content.widgets[at];
  if (!(widget instanceof CodeCell)) {
    throw new Error(
      `cell '${widget.model.id}' is a ${widget.model.type} cell: only code cells run`
    );
  }
  await panel.sessionContext.ready;
  if (!panel.sessionContext.session?.kernel) {
    throw new Error(`${command.path} has no kernel: pick one in the notebook`);
  }
  const reply = await CodeCell.execute(widget, panel.sessionContext);
  return {
    cell_id: widget.model.id,
    status: reply ? reply.content.status : 'aborted',
    execution_count: widget.model.executionCount,
    outputs: widget.model.outputs.toJSON()
  };
}
