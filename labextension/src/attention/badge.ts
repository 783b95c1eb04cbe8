/** The badge on a terminal's tab while its terminal calls for the user. */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { TerminalWidget } from '../tokens';
import type { IAttentionState } from './model';

/** Shows `state` on the widget's tab, or no badge when there is none. */
export function showBadge(
  widget: TerminalWidget,
  state: IAttentionState | undefined,
  trans: TranslationBundle
): void {
  const current = widget.title.dataset;
  const kind = state?.kind ?? '';
  if ((current['coda-attention'] ?? '') === kind) {
    return;
  }
  const rest: Record<string, string> = {};
  for (const [key, value] of Object.entries(current)) {
    if (!key.startsWith('coda-attention')) {
      rest[key] = value;
    }
  }
  // Lumino renders dataset keys as data-<key> attributes on the tab; the
  // label is drawn by CSS (style/attention.css) from the second one.
  widget.title.dataset = state
    ? {
        ...rest,
        'coda-attention': state.kind,
        'coda-attention-label':
          state.kind === 'done' ? trans.__('done') : trans.__('needs input')
      }
    : rest;
}
