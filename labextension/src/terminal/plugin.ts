/**
 * Agent-grade terminals: themes, fonts, image paste and drop, voice input,
 * split panes and names, OSC 52 and inline images — for every JupyterLab
 * terminal, configured in this extension's settings.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { ITerminalTracker } from '@jupyterlab/terminal';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import {
  ICodaTerminals,
  ITerminals,
  TRANSLATION_DOMAIN,
  TerminalWidget
} from '../tokens';
import { AddonLoader } from './addons';
import {
  ITerminalFeatures,
  TERMINAL_COMMANDS,
  addFontCommand,
  addPaletteItems,
  addThemeCommands,
  addVoiceCommand
} from './commands';
import { showConnectionState } from './connection';
import { HttpFallback } from './fallback';
import { controlFlow } from './flow';
import { interceptShortcuts } from './keys';
import { TabNames } from './layout';
import { addPaneCommands, addSplitCommands } from './paneCommands';
import { guardReattach } from './reattach';
import { TerminalRegistry } from './registry';
import { ThemeController } from './themes';
import { installUploads } from './upload';
import { xtermOf } from './xterm';

const PLUGIN_ID = 'coda-jupyter:terminal';

/** Core commands this extension gives terminal shortcuts to. */
const CORE_COMMANDS = [
  'terminal:increase-font',
  'terminal:decrease-font',
  'documentsearch:start'
];

export const terminalFeaturesPlugin: JupyterFrontEndPlugin<ITerminals> = {
  id: PLUGIN_ID,
  description:
    'Terminal themes, fonts, image paste and drop, voice input, split panes, OSC 52 clipboard and inline images.',
  autoStart: true,
  provides: ICodaTerminals,
  requires: [ITerminalTracker, ISettingRegistry],
  optional: [ICommandPalette, IStateDB, ITranslator],
  activate: activateTerminalFeatures
};

async function activateTerminalFeatures(
  app: JupyterFrontEnd,
  tracker: ITerminalTracker,
  registry: ISettingRegistry,
  palette: ICommandPalette | null,
  state: IStateDB | null,
  translator: ITranslator | null
): Promise<ITerminals> {
  const settings = await registry.load(PLUGIN_ID);
  const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
  const features: ITerminalFeatures = {
    app,
    tracker,
    registry,
    settings,
    trans,
    themes: new ThemeController(tracker, settings),
    names: new TabNames(tracker, state, trans),
    dictations: new Map()
  };
  const terminals = new TerminalRegistry(setUpEachTerminal(features));
  // Terminals injected before this plugin started are in the tracker too.
  tracker.forEach(widget => terminals.adopt(widget));
  tracker.widgetAdded.connect((_, widget) => terminals.adopt(widget));

  addThemeCommands(features);
  addFontCommand(features);
  addVoiceCommand(features);
  addSplitCommands(features);
  addPaneCommands(features);
  if (palette) {
    addPaletteItems(palette, trans);
  }
  return terminals;
}

/** The set-up each terminal tab gets once, core or adopted. */
function setUpEachTerminal(
  features: ITerminalFeatures
): (widget: TerminalWidget) => void {
  const { app, settings, dictations, trans } = features;
  // One per page: what the HTTP fallback learnt holds for every terminal.
  const httpFallback = new HttpFallback();
  const addons = new AddonLoader();
  const intercepted = new Set<string>([...TERMINAL_COMMANDS, ...CORE_COMMANDS]);
  return widget => {
    guardReattach(widget.content);
    controlFlow(widget.content);
    showConnectionState(widget.content, httpFallback, trans);
    installUploads(widget.content, trans);
    interceptShortcuts(app, widget.content.node, intercepted);
    void xtermOf(widget.content).then(term => {
      if (term) {
        addons.load(term, {
          osc52Clipboard: settings.composite.osc52Clipboard !== false,
          inlineImages: settings.composite.inlineImages !== false
        });
      }
    });
    widget.disposed.connect(() => {
      dictations.get(widget)?.cancel();
    });
  };
}
