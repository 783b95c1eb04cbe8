import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { CodaAPIError } from '../api';
import { CredentialsModel } from './model';

/** Masked token input with a link to the workspace's token page. */
class TokenForm extends Widget {
  readonly input: HTMLInputElement;

  constructor(host: string | null, reason: string, trans: TranslationBundle) {
    super();
    this.addClass('coda-TokenForm');
    const intro = document.createElement('p');
    intro.textContent = reason;
    const steps = document.createElement('ol');
    const create = document.createElement('li');
    if (host) {
      const link = document.createElement('a');
      link.href = `${host.replace(/\/$/, '')}/#setting/account/token`;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      link.textContent = trans.__('Open your workspace token page');
      create.append(
        link,
        trans.__(' and create a token with a short lifetime.')
      );
    } else {
      create.textContent = trans.__(
        'In your Databricks workspace, open Settings → Developer → Access tokens and create a token.'
      );
    }
    const paste = document.createElement('li');
    paste.textContent = trans.__(
      'Paste it here. It is exchanged at once for short-lived tokens that rotate automatically; it is never shown again.'
    );
    steps.append(create, paste);
    this.input = document.createElement('input');
    this.input.type = 'password';
    this.input.autocomplete = 'off';
    this.input.spellcheck = false;
    // The prefix of every Databricks token, not words to translate.
    // eslint-disable-next-line jupyter/no-untranslated-string
    this.input.placeholder = 'dapi…';
    this.input.className = 'jp-mod-styled coda-TokenForm-input';
    this.input.setAttribute(
      'aria-label',
      trans.__('Databricks personal access token')
    );
    this.node.append(intro, steps, this.input);
  }

  getValue(): string {
    return this.input.value.trim();
  }

  protected onAfterAttach(): void {
    // Focus first so a paste lands in the field (upstream lost pastes here).
    this.input.focus();
  }
}

/**
 * Asks for a personal access token until one is accepted or the user
 * cancels. Only one dialog at a time, however many triggers fire.
 */
export class TokenPrompt {
  private _open = false;

  constructor(
    private _model: CredentialsModel,
    private _trans: TranslationBundle
  ) {}

  /** False when the user cancels, or when a dialog is already open. */
  async ask(reason: string, replace = false): Promise<boolean> {
    if (this._open) {
      return false;
    }
    this._open = true;
    try {
      return await this._askUntilAccepted(reason, replace);
    } finally {
      this._open = false;
    }
  }

  private async _askUntilAccepted(
    reason: string,
    replace: boolean
  ): Promise<boolean> {
    const trans = this._trans;
    let message = reason;
    for (;;) {
      const form = new TokenForm(
        this._model.status?.host ?? null,
        message,
        trans
      );
      const result = await showDialog({
        title: trans.__('Connect to Databricks'),
        body: form,
        buttons: [
          Dialog.cancelButton({ label: trans.__('Later') }),
          Dialog.okButton({ label: trans.__('Connect') })
        ],
        focusNodeSelector: 'input'
      });
      const token = form.getValue();
      if (!result.button.accept) {
        return false;
      }
      if (!token) {
        message = trans.__(
          'No token was entered. Paste a personal access token to continue.'
        );
        continue;
      }
      try {
        const status = await this._model.configure(token, replace);
        Notification.success(
          trans.__(
            'Connected to Databricks as %1. Tokens now rotate automatically.',
            status.user ?? trans.__('unknown user')
          ),
          { autoClose: 5000 }
        );
        return true;
      } catch (error) {
        if (error instanceof CodaAPIError && error.status === 409) {
          replace = true;
        }
        message = trans.__(
          'That token was not accepted: %1',
          (error as Error).message
        );
      }
    }
  }
}
