import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * Error raised for non-2xx replies; carries the server's JSON message so
 * dialogs and notifications can show something a person can act on.
 */
export class CodaAPIError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/** Call `{base_url}coda/<path>` with Jupyter's auth, XSRF and base URL handling. */
export async function requestCoda<T>(
  path: string,
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'coda', path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  const body: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const message =
      body && typeof body === 'object' && 'message' in body
        ? String((body as { message: unknown }).message)
        : response.statusText;
    throw new CodaAPIError(response.status, message);
  }
  return body as T;
}
