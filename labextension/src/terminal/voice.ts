/**
 * Dictation into a terminal through the Web Speech API, with a preview panel
 * so nothing reaches the terminal before the user accepts it.
 */
import { Notification } from '@jupyterlab/apputils';
import { ITerminal } from '@jupyterlab/terminal';
import type { TranslationBundle } from '@jupyterlab/translation';

// The Web Speech API is not in TypeScript's DOM library; these are the parts
// used.
interface ISpeechAlternative {
  readonly transcript: string;
}
interface ISpeechResult {
  readonly isFinal: boolean;
  readonly length: number;
  readonly [index: number]: ISpeechAlternative;
}
interface ISpeechEvent {
  readonly resultIndex: number;
  readonly results: {
    readonly length: number;
    readonly [index: number]: ISpeechResult;
  };
}
interface ISpeechRecognition {
  continuous: boolean;
  interimResults: boolean;
  lang: string;
  onresult: ((event: ISpeechEvent) => void) | null;
  onerror: ((event: { error: string }) => void) | null;
  onend: (() => void) | null;
  start(): void;
  stop(): void;
  abort(): void;
}
type SpeechRecognitionClass = new () => ISpeechRecognition;

function recognitionClass(): SpeechRecognitionClass | null {
  const scope = window as unknown as Record<
    string,
    SpeechRecognitionClass | undefined
  >;
  return scope.SpeechRecognition ?? scope.webkitSpeechRecognition ?? null;
}

export function voiceSupported(): boolean {
  return recognitionClass() !== null;
}

/** One dictation: a listening recogniser plus its preview panel. */
export class Dictation {
  private readonly _panel = document.createElement('div');
  private readonly _status = document.createElement('div');
  private readonly _text = document.createElement('textarea');
  private readonly _interim = document.createElement('div');
  private readonly _recognition: ISpeechRecognition;
  private _listening = false;
  private _closed = false;

  constructor(
    private readonly terminal: ITerminal.ITerminal,
    lang: string,
    private readonly onClose: () => void,
    private readonly trans: TranslationBundle
  ) {
    const Recognition = recognitionClass();
    if (!Recognition) {
      throw new Error('speech recognition is not available in this browser');
    }
    this._recognition = new Recognition();
    this._recognition.continuous = true;
    this._recognition.interimResults = true;
    this._recognition.lang = lang || navigator.language;
    this._recognition.onresult = event => this._onResult(event);
    this._recognition.onerror = event => {
      if (event.error === 'no-speech' || event.error === 'aborted') {
        return;
      }
      Notification.error(trans.__('Voice input stopped: %1', event.error), {
        autoClose: 5000
      });
      this.stopListening();
    };
    // Browsers end recognition after a pause; keep listening until stopped.
    this._recognition.onend = () => {
      if (this._listening) {
        try {
          this._recognition.start();
        } catch {
          this.stopListening();
        }
      }
    };
    this._buildPanel();
  }

  get listening(): boolean {
    return this._listening;
  }

  start(): void {
    this._listening = true;
    this._recognition.start();
    this._setStatus();
    this._text.focus();
  }

  stopListening(): void {
    if (!this._listening) {
      return;
    }
    this._listening = false;
    this._recognition.stop();
    this._setStatus();
    if (!this._text.value.trim() && !this._interim.textContent) {
      this.cancel();
    }
  }

  /** Type the text into the terminal (no newline) and close. */
  send(): void {
    const text = (this._text.value + this._interim.textContent).trim();
    this._close();
    if (text) {
      this.terminal.paste(text);
    }
  }

  cancel(): void {
    this._close();
  }

  private _onResult(event: ISpeechEvent): void {
    let interim = '';
    for (let i = event.resultIndex; i < event.results.length; i++) {
      const result = event.results[i];
      const transcript = result[0]?.transcript ?? '';
      if (result.isFinal) {
        const current = this._text.value;
        const joiner = current && !/\s$/.test(current) ? ' ' : '';
        this._text.value = current + joiner + transcript.trim();
      } else {
        interim += transcript;
      }
    }
    this._interim.textContent = interim;
  }

  private _buildPanel(): void {
    this._panel.className = 'coda-VoicePanel';
    this._status.className = 'coda-VoicePanel-status';
    this._text.className = 'coda-VoicePanel-text';
    this._text.rows = 3;
    this._text.setAttribute('aria-label', this.trans.__('Dictated text'));
    this._interim.className = 'coda-VoicePanel-interim';
    this._panel.append(this._status, this._text, this._interim);
    this._text.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        event.stopPropagation();
        this.send();
      } else if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        this.cancel();
      }
    });
    this.terminal.node.appendChild(this._panel);
  }

  private _setStatus(): void {
    const state = this._listening
      ? this.trans.__('● Listening')
      : this.trans.__('Paused');
    const hint = this.trans.__(
      'Enter sends · Shift+Enter new line · Esc cancels · Alt+V stops listening'
    );
    this._status.textContent = `${state} — ${hint}`;
    this._panel.classList.toggle('coda-mod-listening', this._listening);
  }

  private _close(): void {
    if (this._closed) {
      return;
    }
    this._closed = true;
    this._listening = false;
    this._recognition.abort();
    this._panel.remove();
    this.onClose();
    this.terminal.activate();
  }
}
