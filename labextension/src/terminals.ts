import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, MainAreaWidget, showDialog } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITerminal, Terminal } from '@jupyterlab/terminal';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { DockLayout } from '@lumino/widgets';

import { CodaAPIError, requestCoda } from './api';
import { PanelIDs, TerminalWidget, TRANSLATION_DOMAIN } from './tokens';

/** An agent's tab is an ordinary terminal tab. */
export type AgentTerminalWidget = TerminalWidget;

export const CORE_TERMINAL_PLUGIN = '@jupyterlab/terminal-extension:plugin';

/** Options from the core terminal settings, so agent tabs look like every other terminal. */
export function coreTerminalOptions(
  settings: ISettingRegistry.ISettings | null
): Partial<ITerminal.IOptions> {
  if (!settings) {
    return {};
  }
  const options: Partial<ITerminal.IOptions> = {};
  const composite = settings.composite as Record<string, unknown>;
  for (const key of Object.keys(ITerminal.defaultOptions)) {
    if (key in composite) {
      (options as Record<string, unknown>)[key] = composite[key];
    }
  }
  return options;
}

/** Tab title: "Claude Code", then "Claude Code 2" for claude_2 and so on. */
export function titleFor(label: string, terminalName: string): string {
  const match = /_(\d+)$/.exec(terminalName);
  return match && match[1] !== '1' ? `${label} ${match[1]}` : label;
}

export interface IAgentWidgetOptions {
  app: JupyterFrontEnd;
  name: string;
  label: string;
  icon: LabIcon;
  options: Partial<ITerminal.IOptions>;
  translator?: ITranslator;
}

/** Wrap an existing server terminal in the standard terminal widget. */
export function attachAgentTerminal(
  opts: IAgentWidgetOptions
): AgentTerminalWidget {
  const session = opts.app.serviceManager.terminals.connectTo({
    model: { name: opts.name }
  });
  const content = new Terminal(session, opts.options, opts.translator);
  const widget = new MainAreaWidget<ITerminal.ITerminal>({
    content,
    reveal: content.ready
  });
  widget.id = `coda-agent-terminal-${opts.name}`;
  const trans = (opts.translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
  pinTitle(content, titleFor(opts.label, opts.name), opts.name, trans);
  widget.title.icon = opts.icon;
  widget.title.closable = true;
  widget.addClass('coda-AgentTerminal');
  widget.node.dataset.codaAgentTerminal = opts.name;
  return widget;
}

/**
 * Keep the agent's name on the tab. The core widget renames its tab to
 * "Terminal <name>" on connect and to whatever title the program sets with
 * an escape sequence; agents set such titles constantly, and a row of tabs
 * named after their spinners is useless. The program's title goes to the
 * caption (tooltip) instead.
 */
function pinTitle(
  content: Terminal,
  label: string,
  name: string,
  trans: TranslationBundle
): void {
  const title = content.title;
  title.label = label;
  title.caption = trans.__('%1 (terminal %2)', label, name);
  title.changed.connect(() => {
    if (title.label !== label) {
      const programTitle = title.label;
      title.label = label;
      title.caption = trans.__(
        '%1: %2 (terminal %3)',
        label,
        programTitle,
        name
      );
    }
  });
}

/** Ask the server for a new agent terminal in `cwd` (relative to the server root). */
export async function startAgentTerminal(
  agentId: string,
  cwd: string
): Promise<string> {
  const reply = await requestCoda<{ name: string }>(
    `api/agents/${encodeURIComponent(agentId)}/terminals`,
    { method: 'POST', body: JSON.stringify({ cwd }) }
  );
  return reply.name;
}

/**
 * The server refused a new agent terminal: too many agent sessions (429), too
 * little free memory or no terminals on this server (503).
 */
export function isRefusal(error: unknown): error is CodaAPIError {
  return (
    error instanceof CodaAPIError &&
    (error.status === 429 || error.status === 503)
  );
}

/**
 * Show a refusal in full (a toast would cut the server's explanation short),
 * with a way to the Running panel, where a session can be shut down.
 */
export async function showRefusal(
  app: JupyterFrontEnd,
  label: string,
  error: CodaAPIError,
  trans: TranslationBundle
): Promise<void> {
  const result = await showDialog({
    title: trans.__('%1 was not started', label),
    body: error.message,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Close') }),
      Dialog.okButton({ label: trans.__('Show Running Terminals') })
    ]
  });
  if (result.button.accept) {
    app.shell.activateById(PanelIDs.running);
  }
}

export function insertMode(split: boolean): DockLayout.InsertMode {
  return split ? 'split-right' : 'tab-after';
}
