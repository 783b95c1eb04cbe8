/**
 * The notification escape sequences terminal programs send, parsed from the
 * payload xterm.js hands an OSC handler (everything after `ESC ] <number> ;`).
 *
 * - OSC 9 (iTerm2): the payload is the message. ConEmu reuses OSC 9 with a
 *   numeric sub-command (`9;4;<state>;<progress>` is a progress bar that
 *   several CLIs send constantly): those are not notifications.
 * - OSC 777 (rxvt-unicode extensions): `notify;<title>;<body>`. coda's own
 *   extension `coda-attention;<kind>;<message>` is what the Claude Code hooks
 *   coda configures print (see agents/writers/claude_attention.py); a terminal
 *   without that extension ignores it, as urxvt ignores unknown ones.
 * - OSC 99 (kitty): `<key=value:…>;<payload>`; `p` says whether the payload is
 *   the title (default) or the body, `e=1` that it is base64, `d=0` that more
 *   chunks with the same `i` follow. Queries (`p=?`) and other payload kinds
 *   (close, alive, icon, buttons) are not notifications.
 */

export type AttentionKind = 'input' | 'done';

export interface IParsedNotification {
  title: string;
  body: string;
  /** Set only by coda's own sequence; otherwise the caller decides. */
  kind?: AttentionKind;
}

const CONEMU_SUBCOMMAND = /^\d+(;|$)/;

export function parseOsc9(data: string): IParsedNotification | null {
  if (!data || CONEMU_SUBCOMMAND.test(data)) {
    return null;
  }
  return { title: '', body: data };
}

export function parseOsc777(data: string): IParsedNotification | null {
  const [command, ...rest] = data.split(';');
  if (command === 'notify') {
    const [title = '', ...body] = rest;
    return { title, body: body.join(';') };
  }
  if (command === 'coda-attention') {
    const [kind, ...message] = rest;
    if (kind !== 'input' && kind !== 'done') {
      return null;
    }
    return { title: '', body: message.join(';'), kind };
  }
  return null;
}

function decode(payload: string, base64: boolean): string {
  if (!base64) {
    return payload;
  }
  try {
    const bytes = Uint8Array.from(atob(payload), c => c.charCodeAt(0));
    return new TextDecoder().decode(bytes);
  } catch {
    return '';
  }
}

/** Collects OSC 99 chunks of one terminal until a notification is complete. */
export class Osc99Assembler {
  private _pending = new Map<string, { title: string; body: string }>();

  push(data: string): IParsedNotification | null {
    const split = data.indexOf(';');
    if (split < 0) {
      return null;
    }
    const meta = new Map<string, string>();
    for (const pair of data.slice(0, split).split(':')) {
      const eq = pair.indexOf('=');
      if (eq > 0) {
        meta.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
    }
    const kind = meta.get('p') ?? 'title';
    if (kind !== 'title' && kind !== 'body') {
      return null;
    }
    const part: 'title' | 'body' = kind === 'body' ? 'body' : 'title';
    const id = meta.get('i') ?? '';
    const text = decode(data.slice(split + 1), meta.get('e') === '1');
    const entry = this._pending.get(id) ?? { title: '', body: '' };
    entry[part] += text;
    if (meta.get('d') === '0') {
      this._pending.set(id, entry);
      return null;
    }
    this._pending.delete(id);
    return entry.title || entry.body ? { ...entry } : null;
  }
}
