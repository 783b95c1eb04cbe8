/**
 * xterm addons core does not load: OSC 52 clipboard (copy inside Claude
 * Code, tmux or vim reaches the browser) and inline images (sixel, iTerm).
 */
import {
  Base64,
  ClipboardAddon,
  ClipboardSelectionType,
  IBase64,
  IClipboardProvider
} from '@xterm/addon-clipboard';
import { ImageAddon } from '@xterm/addon-image';

import { Xterm, safely } from './xterm';

export interface IAddonOptions {
  osc52Clipboard: boolean;
  inlineImages: boolean;
}

/**
 * Programs may write the clipboard but never read it: an OSC 52 query would
 * otherwise hand whatever the user copied elsewhere to any process in the
 * terminal. A query is answered with an empty clipboard, so a program waiting
 * for the reply goes on at once instead of timing out.
 */
class WriteOnlyClipboard implements IClipboardProvider {
  readText(): string {
    return '';
  }

  async writeText(
    _selection: ClipboardSelectionType,
    text: string
  ): Promise<void> {
    await navigator.clipboard.writeText(text);
  }
}

/**
 * The addon's real constructor is `(base64, provider)`; its published typings
 * declare `(provider)`, and a provider passed first is used as the codec, so
 * every copy decodes to '' and wipes the clipboard.
 */
const ClipboardAddonWithCodec = ClipboardAddon as unknown as new (
  base64: IBase64,
  provider: IClipboardProvider
) => ClipboardAddon;

/** Loads the addons into each xterm once, however often it is handed over. */
export class AddonLoader {
  private readonly _loaded = new WeakSet<Xterm>();

  load(term: Xterm, options: IAddonOptions): void {
    if (this._loaded.has(term)) {
      return;
    }
    this._loaded.add(term);
    loadAddons(term, options);
  }
}

function loadAddons(term: Xterm, options: IAddonOptions): void {
  if (options.osc52Clipboard) {
    safely(() =>
      term.loadAddon(
        new ClipboardAddonWithCodec(new Base64(), new WriteOnlyClipboard())
      )
    );
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
