/**
 * The attention service behind `ICodaAttention`: which terminal tabs are open,
 * which of them call for the user, and how each call is shown.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Widget } from '@lumino/widgets';

import type { IAttention, TerminalWidget } from '../tokens';
import { showBadge } from './badge';
import { AttentionModel, AttentionSource, IAttentionEvent } from './model';
import { PermissionRequest, showInBrowser, showInLab } from './notify';
import { watchTerminal } from './watch';

/** Reads a boolean setting; `fallback` is the schema's default. */
export type SettingReader = (key: string, fallback?: boolean) => boolean;

// Setting that switches each source on or off.
const SOURCE_SETTING: Record<AttentionSource, string> = {
  hook: 'claudeHooks',
  osc: 'oscNotifications',
  bell: 'bell',
  task: 'taskChanges'
};

function terminalName(widget: TerminalWidget): string | null {
  try {
    return widget.content.session.name;
  } catch {
    return null;
  }
}

export class AttentionService implements IAttention {
  readonly model = new AttentionModel();
  private _widgets = new Map<string, TerminalWidget>();
  private _permission = new PermissionRequest();

  constructor(
    private _app: JupyterFrontEnd,
    private _trans: TranslationBundle,
    private _setting: SettingReader
  ) {
    this.model.changed.connect(() =>
      this._widgets.forEach(widget => this.badge(widget))
    );
  }

  /** Bring the open tab of `terminal` forward; false when none is open. */
  readonly focus = (terminal: string): boolean => {
    const widget = this.widgetFor(terminal);
    if (!widget) {
      return false;
    }
    this._app.shell.activateById(widget.id);
    widget.content.activate();
    return true;
  };

  /** Raise a call (if its source is enabled and nobody is looking). */
  readonly raise = (event: IAttentionEvent, focus?: () => void): void => {
    const setting = this._setting;
    if (!setting(SOURCE_SETTING[event.source])) {
      return;
    }
    if (!setting('whenWatched', false) && this.watched(event.terminal)) {
      return;
    }
    const bring = (): void => {
      if (!this.focus(event.terminal)) {
        focus?.();
      }
      this.model.clear(event.terminal);
    };
    this.model.raise(event);
    const state = this.model.get(event.terminal);
    if (!state) {
      return;
    }
    showInLab(state, this._trans, bring);
    if (setting('browserNotifications')) {
      this._permission.askOnce(() => setting('browserNotifications'));
      showInBrowser(state, this._trans, bring);
    }
  };

  /** Follow a terminal tab: its calls, its badge, its closing. */
  track(widget: TerminalWidget): void {
    const name = terminalName(widget);
    if (!name || this._widgets.get(name) === widget) {
      return;
    }
    this._widgets.set(name, widget);
    widget.disposed.connect(() => this.forget(name, widget));
    watchTerminal(widget.content, signal =>
      this.raise({
        terminal: name,
        kind: signal.kind,
        source: signal.source,
        title: widget.title.label || name,
        // The program's own title (OSC 777 notify, kitty) leads its message.
        body: [signal.title, signal.body].filter(Boolean).join(': ')
      })
    );
    this.badge(widget);
  }

  /** Looking at a terminal answers its call. */
  clearSeen(): void {
    const current = this._app.shell.currentWidget;
    for (const [name, widget] of this._widgets) {
      if (widget === current && document.visibilityState === 'visible') {
        this.model.clear(name);
      }
    }
  }

  private forget(name: string, widget: TerminalWidget): void {
    if (this._widgets.get(name) !== widget) {
      return;
    }
    this._widgets.delete(name);
    // A closed terminal calls for nobody; a task keeps its state (its
    // transcript view takes over).
    if (!name.startsWith('task_')) {
      this.model.clear(name);
    }
  }

  private widgetFor(terminal: string): TerminalWidget | undefined {
    const widget = this._widgets.get(terminal);
    return widget && !widget.isDisposed ? widget : undefined;
  }

  private watched(terminal: string): boolean {
    const widget: Widget | undefined = this.widgetFor(terminal);
    return (
      !!widget &&
      document.visibilityState === 'visible' &&
      this._app.shell.currentWidget === widget
    );
  }

  private badge(widget: TerminalWidget): void {
    const name = terminalName(widget);
    showBadge(widget, name ? this.model.get(name) : undefined, this._trans);
  }
}
