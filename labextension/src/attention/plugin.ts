/**
 * Attention: when an agent in a terminal needs the user or is done, say so —
 * a JupyterLab notification with a button to the terminal, a badge on the
 * terminal's tab, the state in the Agent tasks panel (through `ICodaAttention`)
 * and, while the page is hidden, a browser notification.
 *
 * Sources: Claude Code's hooks (which print coda's OSC 777 sequence, see
 * `osc.ts`), OSC 9/777/99 notifications and BEL from any program, and
 * background task changes (raised by the tasks plugin).
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITerminal, ITerminalTracker } from '@jupyterlab/terminal';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { ICodaAttention, ICodaTerminals, IAttention, ITerminals } from '../tokens';
import { AttentionModel, AttentionSource, IAttentionEvent } from './model';
import { askPermissionOnce, showInBrowser, showInLab } from './notify';
import { watchTerminal } from './watch';

const PLUGIN_ID = 'coda-jupyter:attention';

type TerminalWidget = MainAreaWidget<ITerminal.ITerminal>;

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

export const attentionPlugin: JupyterFrontEndPlugin<IAttention> = {
  id: PLUGIN_ID,
  description:
    'Notifications, tab badges and task states when an agent needs you or is done.',
  autoStart: true,
  provides: ICodaAttention,
  requires: [ITerminalTracker],
  optional: [ISettingRegistry, ITranslator, ICodaTerminals],
  activate: activateAttention
};

export async function activateAttention(
  app: JupyterFrontEnd,
  tracker: ITerminalTracker,
  registry: ISettingRegistry | null,
  translator: ITranslator | null,
  terminals: ITerminals | null
): Promise<IAttention> {
  const trans = (translator ?? nullTranslator).load('coda_jupyter');
  const settings = registry
    ? await registry.load(PLUGIN_ID).catch(() => null)
    : null;
  // The schema's defaults, for when the settings cannot be read.
  const setting = (key: string, fallback = true): boolean => {
    const value = (settings?.composite as Record<string, unknown> | undefined)?.[key];
    return typeof value === 'boolean' ? value : fallback;
  };
  const model = new AttentionModel();
  const widgets = new Map<string, TerminalWidget>();

  const widgetFor = (terminal: string): TerminalWidget | undefined => {
    const widget = widgets.get(terminal);
    return widget && !widget.isDisposed ? widget : undefined;
  };
  const watched = (widget: Widget | undefined): boolean =>
    !!widget &&
    document.visibilityState === 'visible' &&
    app.shell.currentWidget === widget;

  const focusTerminal = (terminal: string): boolean => {
    const widget = widgetFor(terminal);
    if (!widget) {
      return false;
    }
    app.shell.activateById(widget.id);
    widget.content.activate();
    return true;
  };

  const raise = (event: IAttentionEvent, focus?: () => void): void => {
    if (!setting(SOURCE_SETTING[event.source])) {
      return;
    }
    if (!setting('whenWatched', false) && watched(widgetFor(event.terminal))) {
      return;
    }
    const bring = (): void => {
      if (!focusTerminal(event.terminal)) {
        focus?.();
      }
      model.clear(event.terminal);
    };
    model.raise(event);
    const state = model.get(event.terminal);
    if (!state) {
      return;
    }
    showInLab(state, trans, bring);
    if (setting('browserNotifications')) {
      askPermissionOnce();
      showInBrowser(state, trans, bring);
    }
  };

  const badge = (widget: TerminalWidget): void => {
    const name = terminalName(widget);
    const state = name ? model.get(name) : undefined;
    const current = widget.title.dataset;
    const kind = state?.kind ?? '';
    if ((current['coda-attention'] ?? '') === kind) {
      return;
    }
    const rest: Record<string, string> = {};
    for (const [key, value] of Object.entries(current)) {
      if (!key.startsWith('coda-attention')) {
        rest[key] = value;
      }
    }
    // Lumino renders dataset keys as data-<key> attributes on the tab; the
    // label is drawn by CSS (style/attention.css) from the second one.
    widget.title.dataset = state
      ? {
          ...rest,
          'coda-attention': state.kind,
          'coda-attention-label':
            state.kind === 'done' ? trans.__('done') : trans.__('needs input')
        }
      : rest;
  };
  model.changed.connect(() => widgets.forEach(badge));

  const track = (widget: TerminalWidget): void => {
    const name = terminalName(widget);
    if (!name || widgets.get(name) === widget) {
      return;
    }
    widgets.set(name, widget);
    widget.disposed.connect(() => {
      if (widgets.get(name) === widget) {
        widgets.delete(name);
        // A closed terminal calls for nobody; a task keeps its state (its
        // transcript view takes over).
        if (!name.startsWith('task_')) {
          model.clear(name);
        }
      }
    });
    watchTerminal(widget.content, signal =>
      raise({
        terminal: name,
        kind: signal.kind,
        source: signal.source,
        title: widget.title.label || name,
        // The program's own title (OSC 777 notify, kitty) leads its message.
        body: [signal.title, signal.body].filter(Boolean).join(': ')
      })
    );
    badge(widget);
  };
  if (terminals) {
    // Agent and task terminals too, which core's tracker does not announce.
    terminals.all.forEach(track);
    terminals.added.connect((_, widget) => track(widget));
  } else {
    tracker.forEach(track);
    tracker.widgetAdded.connect((_, widget) => track(widget));
  }

  // Looking at a terminal answers its call.
  const seen = (): void => {
    const current = app.shell.currentWidget;
    for (const [name, widget] of widgets) {
      if (widget === current && document.visibilityState === 'visible') {
        model.clear(name);
      }
    }
  };
  app.shell.currentChanged?.connect(seen);
  document.addEventListener('visibilitychange', seen);

  return {
    model,
    raise,
    focus: focusTerminal
  };
}
