import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { CodaAPIError } from '../api';
import { CredentialsModel } from './model';

/** Masked token input with a link to the workspace's token page. */
class TokenForm extends Widget {
  readonly input: HTMLInputElement;

  constructor(host: string | null, reason: string) {
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
      link.textContent = 'Open your workspace token page';
      create.append(link, ' and create a token with a short lifetime.');
    } else {
      create.textContent =
        'In your Databricks workspace, open Settings → Developer → Access tokens and create a token.';
    }
    const paste = document.createElement('li');
    paste.textContent =
      'Paste it here. It is exchanged at once for short-lived tokens that rotate automatically; it is never shown again.';
    steps.append(create, paste);
    this.input = document.createElement('input');
    this.input.type = 'password';
    this.input.autocomplete = 'off';
    this.input.spellcheck = false;
    this.input.placeholder = 'dapi…';
    this.input.className = 'jp-mod-styled coda-TokenForm-input';
    this.input.setAttribute('aria-label', 'Databricks personal access token');
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

let open = false;

/**
 * Ask for a personal access token until one is accepted or the user cancels.
 * Only one dialog at a time, however many triggers fire.
 */
export async function askForToken(
  model: CredentialsModel,
  reason: string,
  replace = false
): Promise<boolean> {
  if (open) {
    return false;
  }
  open = true;
  try {
    let message = reason;
    for (;;) {
      const form = new TokenForm(model.status?.host ?? null, message);
      const result = await showDialog({
        title: 'Connect to Databricks',
        body: form,
        buttons: [
          Dialog.cancelButton({ label: 'Later' }),
          Dialog.okButton({ label: 'Connect' })
        ],
        focusNodeSelector: 'input'
      });
      const token = form.getValue();
      if (!result.button.accept) {
        return false;
      }
      if (!token) {
        message = 'No token was entered. Paste a personal access token to continue.';
        continue;
      }
      try {
        const status = await model.configure(token, replace);
        Notification.success(
          `Connected to Databricks as ${status.user ?? 'unknown user'}. Tokens now rotate automatically.`,
          { autoClose: 5000 }
        );
        return true;
      } catch (error) {
        if (error instanceof CodaAPIError && error.status === 409) {
          replace = true;
        }
        message = `That token was not accepted: ${(error as Error).message}`;
      }
    }
  } finally {
    open = false;
  }
}
