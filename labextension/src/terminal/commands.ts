/**
 * The terminal commands for looks and input: colour scheme, light/dark
 * switch, font and dictation, and their Command Palette items.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, InputDialog } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITerminalTracker } from '@jupyterlab/terminal';
import type { TranslationBundle } from '@jupyterlab/translation';

import { CORE_TERMINAL_PLUGIN } from '../terminals';
import { CommandIDs, TerminalWidget } from '../tokens';
import { availableFonts, chosenFont, fontFamilyValue } from './fonts';
import { TabNames } from './layout';
import { FOLLOW_JUPYTERLAB, PALETTES, paletteById } from './palettes';
import { ThemeController } from './themes';
import { Dictation, voiceSupported } from './voice';

/** What the terminal commands act on, made once by the plugin. */
export interface ITerminalFeatures {
  readonly app: JupyterFrontEnd;
  readonly tracker: ITerminalTracker;
  readonly registry: ISettingRegistry;
  /** This extension's terminal settings. */
  readonly settings: ISettingRegistry.ISettings;
  readonly trans: TranslationBundle;
  readonly themes: ThemeController;
  readonly names: TabNames;
  /** The dictation running in each terminal, until it closes. */
  readonly dictations: Map<TerminalWidget, Dictation>;
}

/** The terminal commands, whose shortcuts win over xterm's own keys. */
export const TERMINAL_COMMANDS = [
  CommandIDs.setTerminalTheme,
  CommandIDs.toggleTerminalLightDark,
  CommandIDs.chooseTerminalFont,
  CommandIDs.dictate,
  CommandIDs.splitRight,
  CommandIDs.splitBelow,
  CommandIDs.splitAgent,
  CommandIDs.focusNextPane,
  CommandIDs.focusPreviousPane,
  CommandIDs.closePane,
  CommandIDs.renameTerminal
];

export const NO_ARGS = { args: { type: 'object', properties: {} } };

const IS_PALETTE = {
  type: 'boolean',
  description: 'Label the command for the Command Palette'
};

const THEME_ARGS = {
  args: {
    type: 'object',
    properties: {
      theme: {
        type: 'string',
        description: `A palette id, or "${FOLLOW_JUPYTERLAB}" (the default)`
      },
      isPalette: IS_PALETTE
    }
  }
};

export function addThemeCommands(features: ITerminalFeatures): void {
  const { app, themes, trans, settings } = features;
  const themeOf = (args: { theme?: unknown }): string =>
    String(args.theme ?? FOLLOW_JUPYTERLAB);
  app.commands.addCommand(CommandIDs.setTerminalTheme, {
    label: args => {
      const name =
        paletteById(themeOf(args))?.label(trans) ??
        trans.__('Follow JupyterLab');
      return args.isPalette ? trans.__('Use Terminal Theme: %1', name) : name;
    },
    caption: trans.__('Colour scheme for every terminal'),
    describedBy: THEME_ARGS,
    isToggled: args => themes.themeId === themeOf(args),
    execute: args => themes.choose(themeOf(args))
  });
  app.commands.addCommand(CommandIDs.toggleTerminalLightDark, {
    label: trans.__('Toggle Terminal Light/Dark Theme'),
    caption: trans.__(
      'Switch to the last terminal theme used of the other kind'
    ),
    describedBy: NO_ARGS,
    execute: () => themes.toggleKind()
  });
  settings.changed.connect(() => {
    app.commands.notifyCommandChanged(CommandIDs.setTerminalTheme);
  });
}

/** Ask for a font and store it in core's terminal settings. */
async function chooseFont(
  registry: ISettingRegistry,
  trans: TranslationBundle
): Promise<void> {
  const coreSettings = await registry.load(CORE_TERMINAL_PLUGIN);
  const systemDefault = trans.__('System default');
  const items = [systemDefault, ...availableFonts()];
  const chosen = chosenFont(coreSettings.composite.fontFamily);
  const result = await InputDialog.getItem({
    title: trans.__('Terminal Font'),
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

export function addFontCommand(features: ITerminalFeatures): void {
  const { app, registry, trans } = features;
  app.commands.addCommand(CommandIDs.chooseTerminalFont, {
    label: args =>
      args.isPalette ? trans.__('Choose Terminal Font…') : trans.__('Font…'),
    caption: trans.__('Pick a monospace font installed on this computer'),
    describedBy: {
      args: { type: 'object', properties: { isPalette: IS_PALETTE } }
    },
    execute: () => chooseFont(registry, trans)
  });
}

/** Start dictating into `widget`, or pause or resume the dictation there. */
function toggleDictation(
  features: ITerminalFeatures,
  widget: TerminalWidget
): void {
  const { dictations, settings, trans } = features;
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
    () => dictations.delete(widget),
    trans
  );
  dictations.set(widget, dictation);
  dictation.start();
}

export function addVoiceCommand(features: ITerminalFeatures): void {
  const { app, tracker, trans } = features;
  app.commands.addCommand(CommandIDs.dictate, {
    label: trans.__('Dictate into Terminal'),
    caption: trans.__(
      'Start or stop voice input (Web Speech API) in the active terminal'
    ),
    describedBy: NO_ARGS,
    isVisible: voiceSupported,
    isEnabled: () => voiceSupported() && tracker.currentWidget !== null,
    execute: () => {
      const widget = tracker.currentWidget;
      if (widget) {
        toggleDictation(features, widget);
      }
    }
  });
}

/** The terminal commands in the Command Palette, under "Terminal". */
export function addPaletteItems(
  palette: ICommandPalette,
  trans: TranslationBundle
): void {
  const category = trans.__('Terminal');
  for (const id of [FOLLOW_JUPYTERLAB, ...PALETTES.map(p => p.id)]) {
    palette.addItem({
      command: CommandIDs.setTerminalTheme,
      args: { theme: id, isPalette: true },
      category
    });
  }
  for (const command of [
    CommandIDs.toggleTerminalLightDark,
    CommandIDs.dictate,
    CommandIDs.splitRight,
    CommandIDs.splitBelow,
    CommandIDs.focusNextPane,
    CommandIDs.focusPreviousPane,
    CommandIDs.closePane,
    CommandIDs.renameTerminal
  ]) {
    palette.addItem({ command, category });
  }
  palette.addItem({
    command: CommandIDs.chooseTerminalFont,
    args: { isPalette: true },
    category
  });
  for (const direction of ['right', 'below']) {
    palette.addItem({
      command: CommandIDs.splitAgent,
      args: { direction },
      category
    });
  }
}
