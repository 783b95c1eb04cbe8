/**
 * Paste or drop images onto a terminal: upload them, then type each saved
 * path so the agent in that terminal can read the file. Text paste is left
 * to xterm; items dragged from the file browser type their paths.
 */
import { Notification } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { ITerminal } from '@jupyterlab/terminal';
import type { TranslationBundle } from '@jupyterlab/translation';

import { CodaAPIError, requestCoda } from '../api';

// The file browser drags with Lumino's drag and drop, not the HTML one.
const CONTENTS_MIME = 'application/x-jupyter-icontents';

interface ILuminoDragEvent extends Event {
  readonly mimeData: {
    hasData(mime: string): boolean;
    getData(mime: string): unknown;
  };
  readonly proposedAction: string;
  dropAction: string;
}

/** Quote a path for a POSIX shell only when it needs it. */
export function shellQuote(path: string): string {
  return /^[\w./@%+=:,-]+$/.test(path)
    ? path
    : `'${path.replace(/'/g, `'\\''`)}'`;
}

function typeInto(terminal: ITerminal.ITerminal, text: string): void {
  terminal.session.send({ type: 'stdin', content: [text] });
}

/** Clipboard images are all called "image.png"; give them a useful name. */
function uploadName(file: File, fromClipboard: boolean): string {
  if (!fromClipboard && file.name) {
    return file.name;
  }
  const extension = file.type.split('/')[1]?.replace(/[^\w]/g, '') || 'png';
  return `clipboard-${Date.now()}.${extension}`;
}

export async function uploadFile(file: File, name: string): Promise<string> {
  const form = new FormData();
  form.append('file', file, name);
  const reply = await requestCoda<{ path: string }>('api/uploads', {
    method: 'POST',
    body: form
  });
  return reply.path;
}

async function uploadAll(
  terminal: ITerminal.ITerminal,
  files: File[],
  fromClipboard: boolean,
  trans: TranslationBundle
): Promise<void> {
  for (const file of files) {
    const name = uploadName(file, fromClipboard);
    try {
      const path = await uploadFile(file, name);
      typeInto(terminal, shellQuote(path) + ' ');
      Notification.success(trans.__('Image saved: %1', path), {
        autoClose: 3000
      });
    } catch (error) {
      const detail =
        error instanceof CodaAPIError
          ? `${error.message} (${error.status})`
          : String(error);
      Notification.error(trans.__('Upload of %1 failed: %2', name, detail), {
        autoClose: 6000
      });
    }
  }
}

/** Absolute path of a path relative to the server root. */
function absolutePath(relative: string): string {
  const root = PageConfig.getOption('serverRoot').replace(/\/+$/, '');
  const local = relative.replace(/^[^/:]+:/, '');
  return root ? `${root}/${local}` : local;
}

/**
 * Images pasted from the clipboard. Capture phase: xterm's own paste handler
 * on its textarea would otherwise swallow the event and paste nothing for an
 * image.
 */
function uploadPastedImages(
  terminal: ITerminal.ITerminal,
  trans: TranslationBundle
): void {
  terminal.node.addEventListener(
    'paste',
    (event: ClipboardEvent) => {
      const files = Array.from(event.clipboardData?.files ?? []);
      if (files.length === 0) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      void uploadAll(terminal, files, true, trans);
    },
    true
  );
}

/** Files dropped from the computer (HTML drag and drop). */
function uploadDroppedFiles(
  terminal: ITerminal.ITerminal,
  trans: TranslationBundle
): void {
  const node = terminal.node;
  node.addEventListener('dragover', (event: DragEvent) => {
    if (event.dataTransfer?.types.includes('Files')) {
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    }
  });
  node.addEventListener('drop', (event: DragEvent) => {
    const files = Array.from(event.dataTransfer?.files ?? []);
    if (files.length === 0) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    void uploadAll(terminal, files, false, trans);
  });
}

/** Items dragged from the file browser: their paths are typed, nothing is uploaded. */
function typeDraggedPaths(terminal: ITerminal.ITerminal): void {
  const node = terminal.node;
  const acceptsContents = (event: Event): event is ILuminoDragEvent =>
    'mimeData' in event &&
    (event as ILuminoDragEvent).mimeData.hasData(CONTENTS_MIME);
  const accept = (event: Event): void => {
    if (acceptsContents(event)) {
      // Stop here, or the dock panel would open the file beside the terminal.
      event.preventDefault();
      event.stopPropagation();
      event.dropAction = event.proposedAction;
    }
  };
  node.addEventListener('lm-dragenter', accept);
  node.addEventListener('lm-dragover', accept);
  node.addEventListener('lm-drop', (event: Event) => {
    if (!acceptsContents(event)) {
      return;
    }
    accept(event);
    const paths = event.mimeData.getData(CONTENTS_MIME);
    if (Array.isArray(paths) && paths.length > 0) {
      typeInto(
        terminal,
        paths.map(path => shellQuote(absolutePath(String(path)))).join(' ') +
          ' '
      );
      terminal.activate();
    }
  });
}

/** Wire paste and drop handling onto one terminal widget. */
export function installUploads(
  terminal: ITerminal.ITerminal,
  trans: TranslationBundle
): void {
  uploadPastedImages(terminal, trans);
  uploadDroppedFiles(terminal, trans);
  typeDraggedPaths(terminal);
}
