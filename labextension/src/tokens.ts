import type { MainAreaWidget } from '@jupyterlab/apputils';
import type { ITerminal } from '@jupyterlab/terminal';
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

import { AgentRegistry } from './agents';
import type { AttentionModel, IAttentionEvent } from './attention/model';

/** The client-side agent catalogue, shared by the launcher, panels and terminal features. */
export const ICodaAgents = new Token<AgentRegistry>(
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
