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
async function fetchCoda(path: string, init: RequestInit): Promise<string> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'coda', path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  if (!response.ok) {
    let message = response.statusText;
    try {
      const body: unknown = JSON.parse(text);
      if (body && typeof body === 'object' && 'message' in body) {
        message = String((body as { message: unknown }).message);
      }
    } catch {
      // Not JSON (a proxy's error page): keep the status text.
    }
    throw new CodaAPIError(response.status, message);
  }
  return text;
}

/** A JSON endpoint under `coda/`. */
export async function requestCoda<T>(
  path: string,
  init: RequestInit = {}
): Promise<T> {
  const text = await fetchCoda(path, init);
  return (text ? JSON.parse(text) : null) as T;
}

/** A plain-text endpoint under `coda/` (transcripts). */
export function requestCodaText(path: string): Promise<string> {
  return fetchCoda(path, {});
}
