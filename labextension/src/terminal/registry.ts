import { ISignal, Signal } from '@lumino/signaling';

import { ITerminals, TerminalWidget } from '../tokens';

/** The terminal tabs the features were set up on, each once (see `ITerminals`). */
export class TerminalRegistry implements ITerminals {
  private readonly _added = new Signal<this, TerminalWidget>(this);
  private readonly _widgets = new Set<TerminalWidget>();

  constructor(private readonly setUp: (widget: TerminalWidget) => void) {}

  get added(): ISignal<this, TerminalWidget> {
    return this._added;
  }

  get all(): readonly TerminalWidget[] {
    return [...this._widgets];
  }

  adopt(widget: TerminalWidget): void {
    if (this._widgets.has(widget) || widget.isDisposed) {
      return;
    }
    this._widgets.add(widget);
    widget.disposed.connect(() => this._widgets.delete(widget));
    this.setUp(widget);
    this._added.emit(widget);
  }
}
