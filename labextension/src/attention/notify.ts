/**
 * How a call for attention is shown: a JupyterLab notification with a button
 * to the terminal, and a browser notification when the page is hidden.
 */
import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IAttentionState } from './model';

// Remembered per browser so the permission question is asked once, ever.
const ASKED_KEY = 'coda-jupyter:attention-permission-asked';

export function headline(
  state: IAttentionState,
  trans: TranslationBundle
): string {
  const who = state.title || state.terminal;
  return state.kind === 'done'
    ? trans.__('%1 is done', who)
    : trans.__('%1 needs your input', who);
}

function message(state: IAttentionState, trans: TranslationBundle): string {
  const text = headline(state, trans);
  return state.body ? `${text}: ${state.body}` : text;
}

export function showInLab(
  state: IAttentionState,
  trans: TranslationBundle,
  focus: () => void
): string {
  const options = {
    autoClose: 10000 as number | false,
    actions: [
      {
        label:
          state.source === 'task'
            ? trans.__('Show task')
            : trans.__('Show terminal'),
        caption: trans.__('Focus terminal %1', state.terminal),
        callback: focus
      }
    ],
    data: { codaTerminal: state.terminal }
  };
  return state.kind === 'done'
    ? Notification.success(message(state, trans), options)
    : Notification.warning(message(state, trans), options);
}

function browserNotifications(): typeof window.Notification | null {
  return typeof window.Notification === 'function' ? window.Notification : null;
}

/**
 * Asks for the browser's permission once per browser, and only while it was
 * never answered, at the user's next click or key press: a request without a
 * user gesture is refused by Firefox and queued unseen by Chromium while the
 * page is hidden, which would spend the one question on nobody.
 */
export class PermissionRequest {
  // Set while a question waits for the user's next click or key press.
  private _waitingForGesture = false;

  /** `wanted` is read again at the gesture (the setting may have been turned off). */
  askOnce(wanted: () => boolean): void {
    const api = browserNotifications();
    if (this._waitingForGesture || !mayAsk(api)) {
      return;
    }
    this._waitingForGesture = true;
    const ask = (): void => {
      document.removeEventListener('pointerdown', ask, true);
      document.removeEventListener('keydown', ask, true);
      this._waitingForGesture = false;
      if (!mayAsk(api) || !wanted()) {
        return;
      }
      localStorage.setItem(ASKED_KEY, '1');
      void api.requestPermission().catch(() => undefined);
    };
    // Capture phase: the terminal and editors stop keys from bubbling.
    document.addEventListener('pointerdown', ask, true);
    document.addEventListener('keydown', ask, true);
  }
}

function mayAsk(
  api: typeof window.Notification | null
): api is typeof window.Notification {
  return (
    !!api && api.permission === 'default' && !localStorage.getItem(ASKED_KEY)
  );
}

/** A system notification while the page is hidden; clicking it brings the terminal. */
export function showInBrowser(
  state: IAttentionState,
  trans: TranslationBundle,
  focus: () => void
): void {
  const api = browserNotifications();
  if (
    !api ||
    api.permission !== 'granted' ||
    document.visibilityState !== 'hidden'
  ) {
    return;
  }
  const shown = new api(headline(state, trans), {
    body: state.body || state.terminal,
    // One per terminal: a newer call replaces the older one.
    tag: `coda-attention-${state.terminal}`
  });
  shown.onclick = () => {
    window.focus();
    focus();
    shown.close();
  };
}
