/**
 * Split panes, moving between them, and tab names that survive a reload.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { InputDialog, MainAreaWidget } from '@jupyterlab/apputils';
import { IStateDB } from '@jupyterlab/statedb';
import { ITerminal, ITerminalTracker } from '@jupyterlab/terminal';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReadonlyJSONObject } from '@lumino/coreutils';
import { DockLayout, Widget } from '@lumino/widgets';

import { IAgentInfo } from '../agents';
import { requestCoda } from '../api';
import { CommandIDs } from '../tokens';

export type SplitDirection = 'right' | 'below';

const MODES: Record<SplitDirection, DockLayout.InsertMode> = {
  right: 'split-right',
  below: 'split-bottom'
};

export function splitDirection(value: unknown): SplitDirection {
  return value === 'below' ? 'below' : 'right';
}

/** Put `widget` beside `ref` (both already in the main area). */
function placeBeside(
  app: JupyterFrontEnd,
  widget: Widget,
  ref: Widget | null,
  direction: SplitDirection
): void {
  app.shell.add(widget, 'main', {
    mode: MODES[direction],
    ref: ref && ref !== widget && !ref.isDisposed ? ref.id : undefined
  });
  app.shell.activateById(widget.id);
}

/**
 * Open a new shell, or the agent `agentId`, beside the current pane.
 * Terminals are opened by their usual commands so they are tracked and
 * restored like any other, then moved into place.
 */
export async function split(
  app: JupyterFrontEnd,
  direction: SplitDirection,
  agentId?: string
): Promise<Widget | undefined> {
  const ref = app.shell.currentWidget;
  const widget = (await (agentId
    ? app.commands.execute(CommandIDs.openAgent, { id: agentId })
    : app.commands.execute('terminal:create-new'))) as Widget | undefined;
  if (widget) {
    placeBeside(app, widget, ref, direction);
  }
  return widget;
}

/** Ask which agent to open; `undefined` when cancelled or none exist. */
export async function pickAgent(
  trans: TranslationBundle
): Promise<string | undefined> {
  const agents = await requestCoda<IAgentInfo[]>('api/agents');
  if (agents.length === 0) {
    return undefined;
  }
  const labels = agents.map(agent =>
    agent.installed ? agent.label : trans.__('%1 (not installed)', agent.label)
  );
  const choice = await InputDialog.getItem({
    title: trans.__('Open Agent Beside'),
    items: labels,
    current: 0
  });
  if (!choice.button.accept || choice.value === null) {
    return undefined;
  }
  return agents[labels.indexOf(choice.value)]?.id;
}

/** The visible main-area widgets, in layout order: one per pane. */
function panes(app: JupyterFrontEnd): Widget[] {
  return Array.from(app.shell.widgets('main')).filter(w => w.isVisible);
}

export function focusPane(app: JupyterFrontEnd, step: 1 | -1): void {
  const visible = panes(app);
  if (visible.length < 2) {
    return;
  }
  const current = app.shell.currentWidget;
  const index = current ? visible.indexOf(current) : -1;
  const next = visible[(index + step + visible.length) % visible.length];
  app.shell.activateById(next.id);
}

const NAMES_KEY = 'coda-jupyter:terminal-names';

/**
 * User-chosen tab names, keyed by server terminal name, kept in the
 * workspace state so a reload shows the same names.
 */
export class TabNames {
  private _names: Record<string, string> = {};
  private readonly _ready: Promise<void>;
  // The label each renamed tab keeps, and the tabs already watched for retitles.
  private readonly _pinned = new WeakMap<Widget, string>();
  private readonly _watched = new WeakSet<Widget>();

  constructor(
    tracker: ITerminalTracker,
    private readonly state: IStateDB | null,
    private readonly trans: TranslationBundle
  ) {
    this._ready = (state?.fetch(NAMES_KEY) ?? Promise.resolve(undefined))
      .then(stored => {
        if (stored && typeof stored === 'object') {
          this._names = { ...(stored as Record<string, string>) };
        }
      })
      .catch(() => undefined);
    tracker.forEach(widget => void this._restore(widget));
    tracker.widgetAdded.connect((_, widget) => void this._restore(widget));
  }

  async rename(widget: MainAreaWidget<ITerminal.ITerminal>): Promise<void> {
    const result = await InputDialog.getText({
      title: this.trans.__('Rename Terminal'),
      text: widget.title.label,
      placeholder: this.trans.__('Empty restores the default name')
    });
    if (!result.button.accept || result.value === null) {
      return;
    }
    const name = widget.content.session.name;
    const label = result.value.trim();
    if (label) {
      this._names[name] = label;
    } else {
      delete this._names[name];
    }
    this._pin(widget, label);
    await this.state?.save(NAMES_KEY, this._names as ReadonlyJSONObject);
  }

  private async _restore(
    widget: MainAreaWidget<ITerminal.ITerminal>
  ): Promise<void> {
    await this._ready;
    const label = this._names[widget.content.session.name];
    if (label) {
      this._pin(widget, label);
    }
  }

  /**
   * Keep `label` on the tab. Programs retitle terminals constantly through
   * escape sequences; the outer title is pinned so the content's own title
   * (and agent tabs' own pinning of it) can keep changing underneath.
   */
  private _pin(
    widget: MainAreaWidget<ITerminal.ITerminal>,
    label: string
  ): void {
    const title = widget.title;
    if (!label) {
      this._pinned.delete(widget);
      title.label = widget.content.title.label;
      return;
    }
    this._pinned.set(widget, label);
    title.label = label;
    if (this._watched.has(widget)) {
      return;
    }
    this._watched.add(widget);
    title.changed.connect(() => {
      const wanted = this._pinned.get(widget);
      if (wanted && title.label !== wanted) {
        title.label = wanted;
      }
    });
  }
}
