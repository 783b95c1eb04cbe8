/**
 * Where "Send to agent" delivers its text: an agent terminal that is open, or
 * a new one, chosen in a dialog. The text is pasted through xterm, so a
 * program in bracketed-paste mode (Claude Code, Codex, …) takes it as one
 * paste rather than as typed keys.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { AgentTerminalWidget } from '../terminals';
import { Xterm, xtermOf } from '../terminal/xterm';
import { CommandIDs, ICodaAgents } from '../tokens';

/** A new agent is taken as ready once it has drawn some text and then been quiet this long. */
const QUIET_MS = 1000;
/** Longest wait for a new agent to be ready before the text is pasted anyway. */
const READY_CAP_MS = 30000;

interface ITarget {
  terminal?: AgentTerminalWidget;
  agentId: string;
}

/** Agent terminals in the main area, the current one first. */
export function openAgentTerminals(
  app: JupyterFrontEnd
): AgentTerminalWidget[] {
  const all = [...app.shell.widgets('main')].filter(
    widget => !!widget.node.dataset.codaAgent
  ) as AgentTerminalWidget[];
  const current = app.shell.currentWidget;
  return all.sort((a, b) => Number(b === current) - Number(a === current));
}

class TargetChooser extends Widget implements Dialog.IBodyWidget<ITarget> {
  private readonly select = document.createElement('select');

  constructor(
    private readonly targets: ITarget[],
    labels: string[],
    prompt: string
  ) {
    super();
    this.addClass('coda-SendToAgent');
    const preview = document.createElement('p');
    preview.className = 'coda-SendToAgent-preview';
    preview.textContent = prompt;
    this.select.className = 'jp-mod-styled coda-SendToAgent-target';
    labels.forEach((label, index) => {
      const option = document.createElement('option');
      option.value = String(index);
      option.textContent = label;
      this.select.appendChild(option);
    });
    this.node.append(this.select, preview);
  }

  getValue(): ITarget {
    return this.targets[Number(this.select.value)];
  }

  protected onAfterAttach(): void {
    this.select.focus();
  }
}

/** Ask which agent gets `text`; `null` when the user cancels or there is no agent. */
export async function chooseTarget(
  app: JupyterFrontEnd,
  registry: ICodaAgents,
  trans: TranslationBundle,
  text: string
): Promise<ITarget | null> {
  const targets: ITarget[] = [];
  const labels: string[] = [];
  for (const terminal of openAgentTerminals(app)) {
    targets.push({ terminal, agentId: terminal.node.dataset.codaAgent ?? '' });
    labels.push(terminal.title.label);
  }
  for (const agent of registry.agents.filter(agent => agent.installed)) {
    targets.push({ agentId: agent.id });
    labels.push(trans.__('New %1', agent.label));
  }
  if (targets.length === 0) {
    await showDialog({
      title: trans.__('No agent to send to'),
      body: trans.__(
        'No agent terminal is open and no agent is installed yet. Setup installs the agents; their launcher tiles turn ready when it is done.'
      ),
      buttons: [Dialog.okButton({ label: trans.__('Close') })]
    });
    return null;
  }
  const result = await showDialog<ITarget>({
    title: trans.__('Send to Agent'),
    body: new TargetChooser(targets, labels, text),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Send') })
    ]
  });
  return result.button.accept ? result.value : null;
}

function hasText(term: Xterm): boolean {
  const buffer = term.buffer.active;
  for (let i = 0; i < buffer.length; i++) {
    if (buffer.getLine(i)?.translateToString(true).trim()) {
      return true;
    }
  }
  return false;
}

/** Resolve once `term` shows some text and then stays quiet, or after the cap. */
function settled(term: Xterm): Promise<void> {
  return new Promise(resolve => {
    let timer = 0;
    const done = (): void => {
      window.clearTimeout(timer);
      window.clearTimeout(cap);
      listener.dispose();
      resolve();
    };
    const cap = window.setTimeout(done, READY_CAP_MS);
    // Output with nothing to read (a title, mode switches) comes before an
    // agent has drawn itself; quiet after that is not readiness.
    const listener = term.onWriteParsed(() => {
      window.clearTimeout(timer);
      if (hasText(term)) {
        timer = window.setTimeout(done, QUIET_MS);
      }
    });
    if (hasText(term)) {
      timer = window.setTimeout(done, QUIET_MS);
    }
  });
}

/** Type `text` into the target's agent (a new one is started first); the user presses Enter. */
export async function deliver(
  app: JupyterFrontEnd,
  target: ITarget,
  text: string
): Promise<void> {
  let widget = target.terminal;
  const fresh = !widget;
  if (!widget) {
    // A refusal (too many agents, low memory) is shown by the command itself.
    widget = (await app.commands.execute(CommandIDs.openAgent, {
      id: target.agentId
    })) as AgentTerminalWidget | undefined;
    if (!widget) {
      return;
    }
  }
  app.shell.activateById(widget.id);
  const term = await xtermOf(widget.content);
  if (!term) {
    widget.content.session.send({ type: 'stdin', content: [text] });
    return;
  }
  if (fresh) {
    await settled(term);
  }
  term.paste(text);
  term.focus();
}
