import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { toEpochSeconds } from '../setup/model';
import { CredentialsModel } from './model';

function countdown(seconds: number): string {
  const clamped = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(clamped / 60);
  return `${minutes}:${String(clamped % 60).padStart(2, '0')}`;
}

/** "Databricks: <user> · token rotates in 9:58"; click to (re)connect. */
export class CredentialsStatusItem extends Widget {
  private _ticker: number;

  constructor(
    private _model: CredentialsModel,
    private _trans: TranslationBundle,
    onClick: () => void
  ) {
    super();
    this.addClass('coda-CredentialsStatus');
    this.node.addEventListener('click', onClick);
    _model.changed.connect(this._render, this);
    this._ticker = window.setInterval(() => this._render(), 1000);
    this._render();
  }

  dispose(): void {
    window.clearInterval(this._ticker);
    super.dispose();
  }

  private _render(): void {
    const trans = this._trans;
    const status = this._model.status;
    this.node.dataset.state = status?.state ?? 'unknown';
    if (!status) {
      this.node.textContent = trans.__('Databricks: …');
      return;
    }
    switch (status.state) {
      case 'missing':
        this.node.textContent = trans.__('Databricks: not connected');
        this.node.title = trans.__('Click to paste a personal access token');
        return;
      case 'expired':
        this.node.textContent = trans.__('Databricks: token expired');
        this.node.title = trans.__(
          'Click to paste a new personal access token'
        );
        return;
      case 'error':
        this.node.textContent = trans.__('Databricks: error');
        this.node.title = status.last_error ?? trans.__('Credential error');
        return;
    }
    const next =
      toEpochSeconds(status.next_rotation ?? null) ??
      toEpochSeconds(status.expires_at);
    const user = status.user ?? trans.__('connected');
    this.node.title = status.host ?? '';
    this.node.textContent =
      next === null
        ? trans.__('Databricks: %1', user)
        : trans.__(
            'Databricks: %1 · token rotates in %2',
            user,
            countdown(next - Date.now() / 1000)
          );
  }
}
