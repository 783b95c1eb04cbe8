import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';

import { NotebookRelay } from './relay';

function activateNotebookRelay(
  app: JupyterFrontEnd,
  tracker: INotebookTracker
): void {
  void new NotebookRelay(tracker).run();
}

/** Lets agents' notebook tools act on the notebooks open in this page, live. */
export const notebookRelayPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coda-jupyter:notebook-relay',
  description:
    'Applies coda notebook-tool calls (edits, runs) to the notebooks open in this page.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: activateNotebookRelay
};
