import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IStatusBar } from '@jupyterlab/statusbar';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';

import { CommandIDs, TRANSLATION_DOMAIN } from '../tokens';
import { TokenPrompt } from './dialog';
import { CredentialsModel } from './model';
import { CredentialsStatusItem } from './status';

/** PAT entry dialog and the Databricks status-bar item. */
export const credentialsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coda-jupyter:credentials',
  description: 'Databricks token entry and rotation status.',
  autoStart: true,
  optional: [IStatusBar, ICommandPalette, ITranslator],
  activate: activateCredentials
};

function activateCredentials(
  app: JupyterFrontEnd,
  statusBar: IStatusBar | null,
  palette: ICommandPalette | null,
  translator: ITranslator | null
): void {
  const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
  const model = new CredentialsModel();
  const prompt = new TokenPrompt(model, trans);

  app.commands.addCommand(CommandIDs.connectDatabricks, {
    label: trans.__('Connect to Databricks (paste a token)'),
    describedBy: { args: { type: 'object', properties: {} } },
    execute: () =>
      prompt.ask(
        trans.__(
          'Agents reach your workspace with short-lived tokens minted from a personal access token.'
        ),
        model.status?.configured === true
      )
  });
  palette?.addItem({
    command: CommandIDs.connectDatabricks,
    category: trans.__('Coding Agents')
  });
  askWhenAppNeedsToken(model, prompt, trans);

  if (statusBar) {
    const item = new CredentialsStatusItem(model, trans, () => {
      void app.commands.execute(CommandIDs.connectDatabricks);
    });
    // The status item is what shows the model: its poll stops with it.
    item.disposed.connect(() => model.dispose());
    statusBar.registerStatusItem('coda-jupyter:credentials', {
      item,
      align: 'left',
      rank: 60
    });
  }
}

/**
 * Databricks App mode cannot work without a token, so it asks by itself;
 * locally a token is optional and only the status bar offers it.
 */
function askWhenAppNeedsToken(
  model: CredentialsModel,
  prompt: TokenPrompt,
  trans: TranslationBundle
): void {
  // The state we last asked about: "Later" is respected until the state
  // changes again (for instance a working token later expires).
  let askedFor: string | null = null;
  model.changed.connect(() => {
    const status = model.status;
    if (!status || !model.needsToken) {
      askedFor = null;
      return;
    }
    if (status.mode === 'apps' && askedFor !== status.state) {
      askedFor = status.state;
      const reason =
        status.state === 'expired'
          ? trans.__(
              'The Databricks token has expired or was revoked. Paste a new personal access token.'
            )
          : trans.__(
              'This app needs a Databricks personal access token to configure your agents.'
            );
      void prompt.ask(reason);
    }
  });
}
