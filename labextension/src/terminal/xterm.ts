/**
 * The one place that reaches into JupyterLab's terminal widget for its xterm
 * instance. Core has no public way to set a palette or load addons
 * (jupyterlab#8521), so the private `_term` field is read here, checked for
 * the shape we rely on, and every caller gets `null` when it does not fit:
 * features then fall back to core behaviour instead of breaking terminals.
 */
import type { ITerminal } from '@jupyterlab/terminal';
import type { Terminal as Xterm } from '@xterm/xterm';

export type { Xterm };

let warned = false;

function warnOnce(reason: string): void {
  if (!warned) {
    warned = true;
    console.warn(
      'coda-jupyter: terminal themes, OSC 52 clipboard and inline images ' +
        `are off (${reason}); terminals keep JupyterLab's defaults.`
    );
  }
}

function looksLikeXterm(candidate: unknown): candidate is Xterm {
  if (!candidate || typeof candidate !== 'object') {
    return false;
  }
  const term = candidate as Record<string, unknown>;
  const options = term.options as Record<string, unknown> | undefined;
  return (
    typeof term.loadAddon === 'function' &&
    typeof term.refresh === 'function' &&
    typeof term.rows === 'number' &&
    !!options &&
    typeof options === 'object' &&
    'theme' in options
  );
}

/** The terminal's xterm once it exists, or `null` (with one console warning per page). */
export async function xtermOf(
  terminal: ITerminal.ITerminal
): Promise<Xterm | null> {
  // `ready` is on the Terminal class, not on the ITerminal interface.
  const ready = (terminal as { ready?: Promise<void> }).ready;
  try {
    await ready;
  } catch {
    return null;
  }
  try {
    const widget = terminal as unknown as Record<string, unknown>;
    const candidate = widget._term;
    if (looksLikeXterm(candidate)) {
      return candidate;
    }
    warnOnce('the JupyterLab terminal no longer exposes a compatible xterm');
  } catch (error) {
    warnOnce(String(error));
  }
  return null;
}

/** Run `change` on the xterm; a failure is reported once and never thrown. */
export function safely(change: () => void): boolean {
  try {
    change();
    return true;
  } catch (error) {
    warnOnce(String(error));
    return false;
  }
}
