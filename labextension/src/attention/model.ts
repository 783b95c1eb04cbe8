import { ISignal, Signal } from '@lumino/signaling';

import type { AttentionKind } from './osc';

export type { AttentionKind };

/** Where a call for attention came from; each can be switched off in the settings. */
export type AttentionSource = 'hook' | 'osc' | 'bell' | 'task';

export interface IAttentionEvent {
  /** The Jupyter terminal name (`claude_1`, `task_<id>`). */
  terminal: string;
  kind: AttentionKind;
  source: AttentionSource;
  /** Short headline, e.g. the agent's or task's label. */
  title: string;
  /** What the program said, if anything. */
  body: string;
}

export interface IAttentionState extends IAttentionEvent {
  time: number;
}

/**
 * Which terminals want the user, by terminal name. A state stays until the
 * user looks at that terminal (or its task); a newer event replaces it.
 */
export class AttentionModel {
  private _states = new Map<string, IAttentionState>();
  private _changed = new Signal<this, void>(this);
  private _raised = new Signal<this, IAttentionState>(this);

  /** Any state added or cleared. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A new call for attention (after the settings let it through). */
  get raised(): ISignal<this, IAttentionState> {
    return this._raised;
  }

  get states(): ReadonlyMap<string, IAttentionState> {
    return this._states;
  }

  get(terminal: string): IAttentionState | undefined {
    return this._states.get(terminal);
  }

  raise(event: IAttentionEvent): void {
    const state = { ...event, time: Date.now() };
    this._states.set(event.terminal, state);
    this._raised.emit(state);
    this._changed.emit();
  }

  clear(terminal: string): void {
    if (this._states.delete(terminal)) {
      this._changed.emit();
    }
  }
}
