import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { SetupModel } from './model';

/** Status-bar item: "Agents 7/12 ⟳" while setup runs, a tick or a cross after. */
export class SetupStatusItem extends Widget {
  constructor(
    private _model: SetupModel,
    private _trans: TranslationBundle,
    onClick: () => void
  ) {
    super();
    this.addClass('coda-SetupStatus');
    this.node.title = _trans.__(
      'Coding agents setup: click to open the Agents panel'
    );
    this.node.addEventListener('click', onClick);
    _model.changed.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    const snapshot = this._model.snapshot;
    const { finished, total } = this._model.counts;
    let suffix = '⟳';
    if (!snapshot) {
      suffix = this._model.error ? '⚠' : '…';
    } else if (snapshot.status === 'done') {
      suffix = '✓';
    } else if (snapshot.status === 'failed') {
      suffix = '✗';
    } else if (snapshot.status === 'waiting') {
      suffix = '⏸';
    }
    this.node.textContent = this._trans.__(
      'Agents %1/%2 %3',
      finished,
      total,
      suffix
    );
    this.node.dataset.status = snapshot?.status ?? 'unknown';
  }
}
