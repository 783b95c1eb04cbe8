/**
 * Agent-grade terminals: themes, fonts, image paste and drop, voice input,
 * split panes and names, OSC 52 and inline images — for every JupyterLab
 * terminal, configured in this extension's settings.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  MainAreaWidget
} from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { ITerminal, ITerminalTracker } from '@jupyterlab/terminal';

import { CORE_TERMINAL_PLUGIN } from '../terminals';
import { ICodaTerminals, ITerminals } from '../tokens';
import { TerminalRegistry } from './registry';
import { loadAddons } from './addons';
import { showConnectionState } from './connection';
import { controlFlow } from './flow';
import { guardReattach } from './reattach';
import { availableFonts, chosenFont, fontFamilyValue } from './fonts';
import { interceptShortcuts } from './keys';
import { TabNames, focusPane, pickAgent, split, splitDirection } from './layout';
import { FOLLOW_JUPYTERLAB, PALETTES, paletteById } from './palettes';
import { ThemeController } from './themes';
import { installUploads } from './upload';
import { Dictation, voiceSupported } from './voice';
import { xtermOf } from './xterm';

const PLUGIN_ID = 'coda-jupyter:terminal';

export namespace CommandIDs {
  export const setTheme = 'coda-terminal:set-theme';
  export const toggleLightDark = 'coda-terminal:toggle-light-dark';
  export const chooseFont = 'coda-terminal:choose-font';
  export const voice = 'coda-terminal:voice';
  export const splitRight = 'coda-terminal:split-right';
  export const splitBelow = 'coda-terminal:split-below';
  export const splitAgent = 'coda-terminal:split-agent';
  export const focusNext = 'coda-terminal:focus-next-pane';
  export const focusPrevious = 'coda-terminal:focus-previous-pane';
  export const closePane = 'coda-terminal:close-pane';
  export const rename = 'coda-terminal:rename';
}

/** Core commands this extension gives terminal shortcuts to. */
const CORE_COMMANDS = [
  'terminal:increase-font',
  'terminal:decrease-font',
  'documentsearch:start'
];

const CATEGORY = 'Terminal';

type TerminalWidget = MainAreaWidget<ITerminal.ITerminal>;

export const terminalFeaturesPlugin: JupyterFrontEndPlugin<ITerminals> = {
  id: PLUGIN_ID,
  description:
    'Terminal themes, fonts, image paste and drop, voice input, split panes, OSC 52 clipboard and inline images.',
  autoStart: true,
  provides: ICodaTerminals,
  requires: [ITerminalTracker, ISettingRegistry],
  optional: [ICommandPalette, IStateDB],
  activate: async (
    app: JupyterFrontEnd,
    tracker: ITerminalTracker,
    registry: ISettingRegistry,
    palette: ICommandPalette | null,
    state: IStateDB | null
  ) => {
    const settings = await registry.load(PLUGIN_ID);
    const themes = new ThemeController(tracker, settings);
    const names = new TabNames(tracker, state);
    const dictations = new Map<TerminalWidget, Dictation>();
    const { commands } = app;
    const intercepted = new Set([
      ...Object.values(CommandIDs),
      ...CORE_COMMANDS
    ]);

    const current = (): TerminalWidget | null => tracker.currentWidget;
    const hasTerminal = (): boolean => current() !== null;

    const setUp = (widget: TerminalWidget): void => {
      guardReattach(widget.content);
      controlFlow(widget.content);
      showConnectionState(widget.content);
      installUploads(widget.content);
      interceptShortcuts(app, widget.content.node, intercepted);
      void xtermOf(widget.content).then(term => {
        if (term) {
          loadAddons(term, {
            osc52Clipboard: settings.composite.osc52Clipboard !== false,
            inlineImages: settings.composite.inlineImages !== false
          });
        }
      });
      widget.disposed.connect(() => {
        dictations.get(widget)?.cancel();
      });
    };
    const terminals = new TerminalRegistry(setUp);
    // Terminals injected before this plugin started are in the tracker too.
    tracker.forEach(widget => terminals.adopt(widget));
    tracker.widgetAdded.connect((_, widget) => terminals.adopt(widget));

    commands.addCommand(CommandIDs.setTheme, {
      label: args => {
        const id = String(args.theme ?? FOLLOW_JUPYTERLAB);
        const name = paletteById(id)?.label ?? 'Follow JupyterLab';
        return args.isPalette ? `Use Terminal Theme: ${name}` : name;
      },
      caption: 'Colour scheme for every terminal',
      isToggled: args =>
        themes.themeId === String(args.theme ?? FOLLOW_JUPYTERLAB),
      execute: args => themes.choose(String(args.theme ?? FOLLOW_JUPYTERLAB))
    });

    commands.addCommand(CommandIDs.toggleLightDark, {
      label: 'Toggle Terminal Light/Dark Theme',
      caption: 'Switch to the last terminal theme used of the other kind',
      execute: () => themes.toggleKind()
    });
    settings.changed.connect(() => {
      commands.notifyCommandChanged(CommandIDs.setTheme);
    });

    commands.addCommand(CommandIDs.chooseFont, {
      label: args => (args.isPalette ? 'Choose Terminal Font…' : 'Font…'),
      caption: 'Pick a monospace font installed on this computer',
      execute: async () => {
        const coreSettings = await registry.load(CORE_TERMINAL_PLUGIN);
        const fonts = availableFonts();
        const systemDefault = 'System default';
        const items = [systemDefault, ...fonts];
        const chosen = chosenFont(coreSettings.composite.fontFamily);
        const result = await InputDialog.getItem({
          title: 'Terminal Font',
          items,
          current: Math.max(0, items.indexOf(chosen ?? systemDefault))
        });
        if (!result.button.accept || result.value === null) {
          return;
        }
        if (result.value === systemDefault) {
          await coreSettings.remove('fontFamily');
        } else {
          await coreSettings.set('fontFamily', fontFamilyValue(result.value));
        }
      }
    });

    commands.addCommand(CommandIDs.voice, {
      label: 'Dictate into Terminal',
      caption:
        'Start or stop voice input (Web Speech API) in the active terminal',
      isVisible: voiceSupported,
      isEnabled: () => voiceSupported() && hasTerminal(),
      execute: () => {
        const widget = current();
        if (!widget) {
          return;
        }
        const running = dictations.get(widget);
        if (running) {
          if (running.listening) {
            running.stopListening();
          } else {
            running.start();
          }
          return;
        }
        const language = settings.composite.voiceLanguage;
        const dictation = new Dictation(
          widget.content,
          typeof language === 'string' ? language : '',
          () => dictations.delete(widget)
        );
        dictations.set(widget, dictation);
        dictation.start();
      }
    });

    commands.addCommand(CommandIDs.splitRight, {
      label: 'Split Terminal Right',
      caption: 'Open a new shell to the right of the current pane',
      execute: () => split(app, 'right')
    });
    commands.addCommand(CommandIDs.splitBelow, {
      label: 'Split Terminal Below',
      caption: 'Open a new shell below the current pane',
      execute: () => split(app, 'below')
    });
    commands.addCommand(CommandIDs.splitAgent, {
      label: args =>
        splitDirection(args.direction) === 'below'
          ? 'Split Below with Agent…'
          : 'Split Right with Agent…',
      caption: 'Open a coding agent beside the current pane',
      execute: async args => {
        const id =
          typeof args.id === 'string' ? args.id : await pickAgent();
        return id ? split(app, splitDirection(args.direction), id) : undefined;
      }
    });

    commands.addCommand(CommandIDs.focusNext, {
      label: 'Focus Next Pane',
      execute: () => focusPane(app, 1)
    });
    commands.addCommand(CommandIDs.focusPrevious, {
      label: 'Focus Previous Pane',
      execute: () => focusPane(app, -1)
    });
    commands.addCommand(CommandIDs.closePane, {
      label: 'Close Terminal Pane',
      isEnabled: hasTerminal,
      execute: () => current()?.close()
    });
    commands.addCommand(CommandIDs.rename, {
      label: 'Rename Terminal…',
      isEnabled: hasTerminal,
      execute: () => {
        const widget = current();
        return widget ? names.rename(widget) : undefined;
      }
    });

    if (palette) {
      for (const id of [FOLLOW_JUPYTERLAB, ...PALETTES.map(p => p.id)]) {
        palette.addItem({
          command: CommandIDs.setTheme,
          args: { theme: id, isPalette: true },
          category: CATEGORY
        });
      }
      for (const command of [
        CommandIDs.toggleLightDark,
        CommandIDs.voice,
        CommandIDs.splitRight,
        CommandIDs.splitBelow,
        CommandIDs.focusNext,
        CommandIDs.focusPrevious,
        CommandIDs.closePane,
        CommandIDs.rename
      ]) {
        palette.addItem({ command, category: CATEGORY });
      }
      palette.addItem({
        command: CommandIDs.chooseFont,
        args: { isPalette: true },
        category: CATEGORY
      });
      for (const direction of ['right', 'below']) {
        palette.addItem({
          command: CommandIDs.splitAgent,
          args: { direction },
          category: CATEGORY
        });
      }
    }
    return terminals;
  }
};
