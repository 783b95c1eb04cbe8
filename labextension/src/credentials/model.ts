import { ISignal, Signal } from '@lumino/signaling';

import { requestCoda } from '../api';
import { ServerPoll } from '../poll';

export type CredentialState =
  'missing' | 'valid' | 'expiring' | 'expired' | 'error';

/** `GET coda/api/credentials`; never carries a token. */
export interface ICredentialStatus {
  mode: 'apps' | 'local';
  configured: boolean;
  state: CredentialState;
  user: string | null;
  host: string | null;
  expires_at: number | string | null;
  last_rotation: number | string | null;
  next_rotation?: number | string | null;
  last_error: string | null;
}

/** Polls the credential status; the dialog and the status bar read it. */
export class CredentialsModel {
  private _status: ICredentialStatus | null = null;
  private _changed = new Signal<this, void>(this);
  private _poll: ServerPoll;

  constructor() {
    this._poll = new ServerPoll({
      name: 'credentials',
      interval: 15000,
      max: 60000,
      request: () => this._fetch()
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get status(): ICredentialStatus | null {
    return this._status;
  }

  /** True when a token must be pasted before agents can reach the workspace. */
  get needsToken(): boolean {
    const state = this._status?.state;
    return state === 'missing' || state === 'expired';
  }

  async configure(token: string, replace: boolean): Promise<ICredentialStatus> {
    const status = await requestCoda<ICredentialStatus>('api/credentials', {
      method: 'POST',
      body: JSON.stringify({ token, replace })
    });
    this._status = status;
    this._changed.emit();
    return status;
  }

  async refresh(): Promise<void> {
    await this._poll.refresh();
  }

  dispose(): void {
    this._poll.dispose();
  }

  private async _fetch(): Promise<void> {
    this._status = await requestCoda<ICredentialStatus>('api/credentials');
    this._changed.emit();
  }
}
