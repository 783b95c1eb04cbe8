import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IStatusBar } from '@jupyterlab/statusbar';

import { askForToken } from './dialog';
import { CredentialsModel } from './model';
import { CredentialsStatusItem } from './status';

const CONNECT = 'coda:connect-databricks';

/** PAT entry dialog and the Databricks status-bar item. */
export const credentialsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coda-jupyter:credentials',
  description: 'Databricks token entry and rotation status.',
  autoStart: true,
  optional: [IStatusBar, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null
  ) => {
    const model = new CredentialsModel();

    app.commands.addCommand(CONNECT, {
      label: 'Connect to Databricks (paste a token)',
      execute: () =>
        askForToken(
          model,
          'Agents reach your workspace with short-lived tokens minted from a personal access token.',
          model.status?.configured === true
        )
    });
    palette?.addItem({ command: CONNECT, category: 'Coding Agents' });

    // The state we last asked about: "Later" is respected until the state
    // changes again (for instance a working token later expires).
    let askedFor: string | null = null;
    model.changed.connect(() => {
      const status = model.status;
      if (!status || !model.needsToken) {
        askedFor = null;
        return;
      }
      // Databricks App mode cannot work without a token, so it asks by itself;
      // locally a token is optional and only the status bar offers it.
      if (status.mode === 'apps' && askedFor !== status.state) {
        askedFor = status.state;
        const reason =
          status.state === 'expired'
            ? 'The Databricks token has expired or was revoked. Paste a new personal access token.'
            : 'This app needs a Databricks personal access token to configure your agents.';
        void askForToken(model, reason);
      }
    });

    if (statusBar) {
      statusBar.registerStatusItem('coda-jupyter:credentials', {
        item: new CredentialsStatusItem(model, () => {
          void app.commands.execute(CONNECT);
        }),
        align: 'left',
        rank: 60
      });
    }
  }
};
