/**
 * Saves a document once a run of changes pauses, one save at a time.
 *
 * Each JupyterLab save is a contents GET (the "changed on disk" check) and a
 * PUT the server writes and validates: done after every agent edit, it ran
 * while the agent's next command waited. Coalesced, a burst of edits costs
 * one save, the relay replies without waiting for any, and the file on disk
 * still catches up within `maxDelayMs` of the first unsaved change.
 */
export class CoalescedSave {
  private timer: number | null = null;
  private firstPending: number | null = null;
  private saving = false;
  private again = false;

  constructor(
    private readonly save: () => Promise<void>,
    private readonly quietMs: number,
    private readonly maxDelayMs: number
  ) {}

  /** A change to save: after `quietMs` without another, or `maxDelayMs` after the first. */
  request(): void {
    const now = Date.now();
    this.firstPending ??= now;
    const latest = this.firstPending + this.maxDelayMs - now;
    this.clearTimer();
    this.timer = window.setTimeout(
      () => this.fire(),
      Math.max(0, Math.min(this.quietMs, latest))
    );
  }

  dispose(): void {
    this.clearTimer();
  }

  private fire(): void {
    this.timer = null;
    this.firstPending = null;
    if (this.saving) {
      // A save already on its way may have read the document before the
      // latest change: one more follows it.
      this.again = true;
      return;
    }
    this.saving = true;
    void this.save()
      .catch(() => undefined) // JupyterLab reports a failed save itself
      .finally(() => {
        this.saving = false;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
