/**
 * Attention: when an agent in a terminal needs the user or is done, say so —
 * a JupyterLab notification with a button to the terminal, a badge on the
 * terminal's tab, the state in the Agent tasks panel (through `ICodaAttention`)
 * and, while the page is hidden, a browser notification.
 *
 * Sources: Claude Code's hooks (which print coda's OSC 777 sequence, see
 * `osc.ts`), OSC 9/777/99 notifications and BEL from any program, and
 * background task changes (raised by the tasks plugin).
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITerminalTracker } from '@jupyterlab/terminal';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import {
  ICodaAttention,
  ICodaTerminals,
  IAttention,
  ITerminals,
  TRANSLATION_DOMAIN
} from '../tokens';
import { AttentionService, SettingReader } from './service';

const PLUGIN_ID = 'coda-jupyter:attention';

export const attentionPlugin: JupyterFrontEndPlugin<IAttention> = {
  id: PLUGIN_ID,
  description:
    'Notifications, tab badges and task states when an agent needs you or is done.',
  autoStart: true,
  provides: ICodaAttention,
  requires: [ITerminalTracker],
  optional: [ISettingRegistry, ITranslator, ICodaTerminals],
  activate: activateAttention
};

export async function activateAttention(
  app: JupyterFrontEnd,
  tracker: ITerminalTracker,
  registry: ISettingRegistry | null,
  translator: ITranslator | null,
  terminals: ITerminals | null
): Promise<IAttention> {
  const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
  const service = new AttentionService(
    app,
    trans,
    await loadSettings(registry)
  );
  if (terminals) {
    // Agent and task terminals too, which core's tracker does not announce.
    terminals.all.forEach(widget => service.track(widget));
    terminals.added.connect((_, widget) => service.track(widget));
  } else {
    tracker.forEach(widget => service.track(widget));
    tracker.widgetAdded.connect((_, widget) => service.track(widget));
  }
  const seen = (): void => service.clearSeen();
  app.shell.currentChanged?.connect(seen);
  document.addEventListener('visibilitychange', seen);
  return service;
}

/** This plugin's settings, with the schema's defaults when they cannot be read. */
async function loadSettings(
  registry: ISettingRegistry | null
): Promise<SettingReader> {
  const settings = registry
    ? await registry.load(PLUGIN_ID).catch(() => null)
    : null;
  return (key: string, fallback = true): boolean => {
    const value = (
      settings?.composite as Record<string, unknown> | undefined
    )?.[key];
    return typeof value === 'boolean' ? value : fallback;
  };
}
