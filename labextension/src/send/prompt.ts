/**
 * The text "Send to agent" types into an agent's input. It names what the
 * user pointed at in the terms the agent's notebook tools take (the notebook
 * path relative to the server root, and cell ids), so the agent can read the
 * cells itself instead of being handed a copy that goes stale. It ends with a
 * space and no newline: the user adds the request and presses Enter.
 */

/** Cells of one notebook, in notebook order. */
export interface ICellsContext {
  kind: 'cells';
  path: string;
  cells: { id: string; index: number }[];
}

/** Files or folders picked in the file browser. */
export interface IFilesContext {
  kind: 'files';
  paths: string[];
}

/** An error output of one cell. */
export interface IErrorContext {
  kind: 'error';
  path: string;
  cell: { id: string; index: number };
  ename: string;
  evalue: string;
}

export type SendContext = ICellsContext | IFilesContext | IErrorContext;

/** Longest error message kept in the prompt; the agent reads the rest with the tools. */
const MAX_EVALUE = 200;

function quoted(path: string): string {
  return `"${path.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function cellList(cells: { id: string; index: number }[]): string {
  return cells.map(cell => `${cell.id} (index ${cell.index})`).join(', ');
}

/** One line, so no program takes a newline in it for Enter. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function promptFor(context: SendContext): string {
  switch (context.kind) {
    case 'cells': {
      const noun = context.cells.length === 1 ? 'cell' : 'cells';
      return (
        `In the notebook ${quoted(context.path)}, ${noun} ${cellList(context.cells)} ` +
        '(read them with coda_notebook_read; edit and run with the coda notebook tools): '
      );
    }
    case 'files': {
      const noun = context.paths.length === 1 ? 'file' : 'files';
      return `About the ${noun} ${context.paths.map(quoted).join(', ')} (paths from the Jupyter root): `;
    }
    case 'error': {
      let message = oneLine(`${context.ename}: ${context.evalue}`);
      if (message.length > MAX_EVALUE) {
        message = message.slice(0, MAX_EVALUE) + '…';
      }
      return (
        `In the notebook ${quoted(context.path)}, cell ${cellList([context.cell])} failed with ` +
        `${message}. Read the cell and its traceback with coda_notebook_read (include_outputs), ` +
        'find the cause and fix it: '
      );
    }
  }
}
