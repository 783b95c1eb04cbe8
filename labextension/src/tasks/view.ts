/**
 * A task's read-only transcript in the main area: what the agent printed, as
 * the server kept it (capped, escape sequences stripped), with its status.
 * This is what a task's `lab_url` shows once the task has ended, instead of
 * a terminal that no longer exists.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { element } from '../dom';
import { ServerPoll } from '../poll';
import { TasksModel } from './model';

// While the task still runs, its transcript grows.
const RUNNING_REFRESH_MS = 2000;

export class TranscriptView extends Widget {
  private _header = element('div', 'coda-TranscriptView-header');
  private _text = element('pre', 'coda-TranscriptView-text');
  private _poll: ServerPoll;

  constructor(
    readonly taskId: string,
    private _model: TasksModel,
    private _trans: TranslationBundle
  ) {
    super();
    this.addClass('coda-TranscriptView');
    this.node.dataset.codaTranscript = taskId;
    this.node.append(this._header, this._text);
    this._header.textContent = _trans.__(
      'Loading the transcript of task %1…',
      taskId
    );
    // Polls while the task runs, and stops once it has ended or is unavailable.
    this._poll = new ServerPoll({
      name: `transcript-${taskId}`,
      interval: RUNNING_REFRESH_MS,
      max: 30000,
      request: () => this._load()
    });
  }

  dispose(): void {
    this._poll.dispose();
    super.dispose();
  }

  private async _load(): Promise<void> {
    try {
      const [detail, text] = await Promise.all([
        this._model.detail(this.taskId),
        this._model.transcript(this.taskId)
      ]);
      const status = String(detail.status ?? '');
      this.node.dataset.status = status;
      this._header.textContent = this._trans.__(
        'Task %1 (%2): %3 · read-only transcript',
        this.taskId,
        String(detail.agent ?? ''),
        status
      );
      this._text.textContent =
        text || this._trans.__('(the agent printed nothing)');
      if (status !== 'running') {
        this._poll.dispose();
      }
    } catch (error) {
      this.node.dataset.status = 'unavailable';
      this._header.textContent = this._trans.__(
        'The transcript of task %1 is unavailable: %2',
        this.taskId,
        (error as Error).message
      );
      this._poll.dispose();
    }
  }
}

export function transcriptWidget(
  taskId: string,
  model: TasksModel,
  trans: TranslationBundle
): MainAreaWidget<TranscriptView> {
  const content = new TranscriptView(taskId, model, trans);
  const widget = new MainAreaWidget({ content });
  widget.id = `coda-task-transcript-${taskId}`;
  widget.title.label = trans.__('Transcript task_%1', taskId);
  widget.title.caption = trans.__(
    'Read-only transcript of background task %1',
    taskId
  );
  widget.title.closable = true;
  return widget;
}
