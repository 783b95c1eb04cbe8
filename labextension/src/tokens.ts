/**
 * What the plugins share: the interfaces behind the dependency-injection
 * tokens, every command id, and the ids of the panels. A command or panel id
 * is written here once and imported everywhere else.
 */
import type { MainAreaWidget } from '@jupyterlab/apputils';
import type { ITerminal } from '@jupyterlab/terminal';
import type { LabIcon } from '@jupyterlab/ui-components';
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

import type { AttentionModel, IAttentionEvent } from './attention/model';

/** Every command this extension adds. */
export namespace CommandIDs {
  /** Open an agent in a new terminal; args `id`, `split`, `cwd`. Returns the widget. */
  export const openAgent = 'coda:open-agent';
  /** Reconnect a tab to a running agent terminal (layout restore); args `name`, `agent`. */
  export const attachAgentTerminal = 'coda:attach-agent-terminal';
  export const connectDatabricks = 'coda:connect-databricks';
  /** A task's terminal while it runs, its transcript after; arg `task_id`. */
  export const openTask = 'coda:open-task';
  /** The `?coda-terminal=<name>` route of a task's `lab_url`. */
  export const openTerminalFromUrl = 'coda:open-terminal-from-url';
  export const sendCellsToAgent = 'coda:send-cells-to-agent';
  export const sendFilesToAgent = 'coda:send-files-to-agent';
  export const sendErrorToAgent = 'coda:send-error-to-agent';
  /** Terminal colour scheme; args `theme` (a palette id), `isPalette`. */
  export const setTerminalTheme = 'coda-terminal:set-theme';
  export const toggleTerminalLightDark = 'coda-terminal:toggle-light-dark';
  /** Args `isPalette`. */
  export const chooseTerminalFont = 'coda-terminal:choose-font';
  export const dictate = 'coda-terminal:voice';
  export const splitRight = 'coda-terminal:split-right';
  export const splitBelow = 'coda-terminal:split-below';
  /** An agent beside the current pane; args `direction`, `id`. */
  export const splitAgent = 'coda-terminal:split-agent';
  export const focusNextPane = 'coda-terminal:focus-next-pane';
  export const focusPreviousPane = 'coda-terminal:focus-previous-pane';
  export const closePane = 'coda-terminal:close-pane';
  export const renameTerminal = 'coda-terminal:rename';
}

/** The ids of this extension's sidebar panels, and of the core panels it opens. */
export namespace PanelIDs {
  export const agents = 'coda-agents-panel';
  export const tasks = 'coda-tasks-panel';
  /** Core's Running Terminals and Kernels panel. */
  export const running = 'jp-running-sessions';
}

/** The gettext domain of this extension's labels. */
export const TRANSLATION_DOMAIN = 'coda_jupyter';

/** One entry of `GET coda/api/agents`. */
export interface IAgentInfo {
  id: string;
  label: string;
  installed: boolean;
  version: string | null;
  executable: string | null;
  icon: string | null;
  /** How this kind of client connects to coda's MCP endpoint; the URL is a placeholder. */
  mcp_client: { where: string; snippet: string } | null;
}

/** The client-side agent catalogue: the server decides which agents exist. */
export interface ICodaAgents {
  /** Emitted when an agent appears, goes, or changes (an install finished, a new version). */
  readonly changed: ISignal<ICodaAgents, void>;
  readonly agents: IAgentInfo[];
  get(id: string): IAgentInfo | undefined;
  /** The agent's icon, greyed while it is not installed. */
  icon(id: string): LabIcon;
  /** Ask the server now rather than at the next poll. */
  refresh(): Promise<void>;
}

/** The agent catalogue's token, shared by the launcher, panels and terminal features. */
export const ICodaAgents = new Token<ICodaAgents>(
  'coda-jupyter:agents',
  'The coding agents known to the server, refreshed as installs finish.'
);

/** A terminal tab: core's terminal widget in a main-area panel. */
export type TerminalWidget = MainAreaWidget<ITerminal.ITerminal>;

/**
 * Every terminal tab, announced once. Core's tracker does not announce the
 * terminals other plugins inject into it (agent and task terminals), so the
 * plugins that make them hand them over with `adopt`.
 */
export interface ITerminals {
  /** Set up `widget` like a core terminal; call it right after creating the widget. */
  adopt(widget: TerminalWidget): void;
  /** Each terminal tab, core or adopted, once; those from before a listener connected are in `all`. */
  readonly added: ISignal<ITerminals, TerminalWidget>;
  readonly all: readonly TerminalWidget[];
}

export const ICodaTerminals = new Token<ITerminals>(
  'coda-jupyter:terminals',
  'Every terminal tab, including agent and task terminals, for the features that apply to all of them.'
);

/** Calls for attention by terminal, shared by the attention plugin and the Agent tasks panel. */
export interface IAttention {
  readonly model: AttentionModel;
  /** Raise a call (if its source is enabled); `focus` brings it when no terminal tab shows it. */
  raise(event: IAttentionEvent, focus?: () => void): void;
  /** Bring the open tab of `terminal` forward; false when none is open. */
  focus(terminal: string): boolean;
}

export const ICodaAttention = new Token<IAttention>(
  'coda-jupyter:attention',
  'Which terminals need the user: notifications, tab badges and task states.'
);
