/**
 * Apply the chosen palette to every JupyterLab terminal, live.
 */
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITerminal, ITerminalTracker } from '@jupyterlab/terminal';

import {
  FOLLOW_JUPYTERLAB,
  IPalette,
  PaletteKind,
  paletteById,
  xtermColours
} from './palettes';
import { Xterm, safely, xtermOf } from './xterm';

export class ThemeController {
  constructor(
    private readonly tracker: ITerminalTracker,
    private readonly settings: ISettingRegistry.ISettings
  ) {
    tracker.forEach(widget => this._watch(widget.content));
    tracker.widgetAdded.connect((_, widget) => this._watch(widget.content));
    settings.changed.connect(() => this.applyAll());
  }

  /** The setting's theme id: a palette id or "follow-jupyterlab". */
  get themeId(): string {
    const id = this.settings.composite.theme;
    return typeof id === 'string' && paletteById(id) ? id : FOLLOW_JUPYTERLAB;
  }

  get palette(): IPalette | undefined {
    return paletteById(this.themeId);
  }

  /** Light or dark, for the current palette or else the JupyterLab theme. */
  get kind(): PaletteKind {
    const palette = this.palette;
    if (palette) {
      return palette.kind;
    }
    return document.body.dataset.jpThemeLight === 'false' ? 'dark' : 'light';
  }

  async choose(id: string): Promise<void> {
    const palette = paletteById(id);
    // Remembered for the toggle before the theme is saved: a theme shows once
    // its save is done, and a reload right then must not lose the memory.
    if (palette) {
      await this.settings.set(
        palette.kind === 'dark' ? 'lastDarkTheme' : 'lastLightTheme',
        id
      );
    }
    await this.settings.set('theme', palette ? id : FOLLOW_JUPYTERLAB);
  }

  /** Switch to the last theme used of the other kind. */
  async toggleKind(): Promise<void> {
    const key = this.kind === 'dark' ? 'lastLightTheme' : 'lastDarkTheme';
    const remembered = this.settings.composite[key];
    const fallback = this.kind === 'dark' ? 'light' : 'dark';
    await this.choose(
      typeof remembered === 'string' && paletteById(remembered)
        ? remembered
        : fallback
    );
  }

  applyAll(): void {
    this.tracker.forEach(widget => {
      void xtermOf(widget.content).then(term => {
        if (term) {
          this._apply(widget.content, term);
        }
      });
    });
  }

  private _watch(content: ITerminal.ITerminal): void {
    void xtermOf(content).then(term => {
      if (!term || content.isDisposed) {
        return;
      }
      this._apply(content, term);
      // Core resets the xterm theme whenever its own theme option is set
      // (its setting, or a JupyterLab theme change); put ours back on top.
      content.themeChanged.connect(() => this._apply(content, term));
    });
  }

  private _apply(content: ITerminal.ITerminal, term: Xterm): void {
    const palette = this.palette;
    const node = content.node;
    if (!palette) {
      if (node.dataset.codaTheme) {
        delete node.dataset.codaTheme;
        node.style.removeProperty('background-color');
        // Re-setting core's own option restores core colours.
        content.setOption('theme', content.getOption('theme'));
      }
      return;
    }
    const applied = safely(() => {
      term.options.theme = xtermColours(palette);
    });
    if (applied) {
      node.dataset.codaTheme = palette.id;
      node.style.backgroundColor = palette.background;
    }
  }
}
