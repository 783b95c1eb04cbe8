/**
 * xterm addons core does not load: OSC 52 clipboard (copy inside Claude
 * Code, tmux or vim reaches the browser) and inline images (sixel, iTerm).
 */
import { ClipboardAddon, IClipboardProvider } from '@xterm/addon-clipboard';
import { ImageAddon } from '@xterm/addon-image';

import { Xterm, safely } from './xterm';

export interface IAddonOptions {
  osc52Clipboard: boolean;
  inlineImages: boolean;
}

/**
 * Programs may write the clipboard but never read it: an OSC 52 query would
 * otherwise hand whatever the user copied elsewhere to any process in the
 * terminal.
 */
class WriteOnlyClipboard implements IClipboardProvider {
  async readText(): Promise<string> {
    return '';
  }

  async writeText(_selection: string, text: string): Promise<void> {
    await navigator.clipboard.writeText(text);
  }
}

const loaded = new WeakSet<Xterm>();

export function loadAddons(term: Xterm, options: IAddonOptions): void {
  if (loaded.has(term)) {
    return;
  }
  loaded.add(term);
  if (options.osc52Clipboard) {
    safely(() => term.loadAddon(new ClipboardAddon(new WriteOnlyClipboard())));
  }
  if (options.inlineImages) {
    safely(() =>
      term.loadAddon(
        new ImageAddon({
          sixelSupport: true,
          sixelScrolling: true,
          iipSupport: true,
          storageLimit: 128
        })
      )
    );
  }
}
