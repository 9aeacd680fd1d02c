/**
 * When to cut the next batch while one commits. Cutting it as soon as the commit starts (and
 * decoding it meanwhile) made every record wait one whole commit in the queue on top of its
 * own: latency about three commit times. Cutting it so its decode ends as the commit does
 * keeps the overlap and the records fresh. A full batch is always cut at once (throughput).
 */
export class CutPacer {
  private commitStartedAt = 0;
  private inFlight = false;
  private commitMs = 0;
  private decodeMs = 0;

  /** A commit started at `now`. */
  started(now: number): void {
    this.commitStartedAt = now;
    this.inFlight = true;
  }

  /** The commit finished at `now`; its batch's decode took `decodeMs`. Estimates follow the recent batches. */
  finished(now: number, decodeMs: number): void {
    this.inFlight = false;
    const took = now - this.commitStartedAt;
    this.commitMs = this.commitMs === 0 ? took : 0.7 * this.commitMs + 0.3 * took;
    this.decodeMs = this.decodeMs === 0 ? decodeMs : 0.7 * this.decodeMs + 0.3 * decodeMs;
  }

  /** How long to wait before cutting the next batch (0: cut now). */
  holdMs(now: number): number {
    if (!this.inFlight) return 0;
    // A margin for the estimates' error: better a short queue than a late cut.
    return Math.max(0, this.commitStartedAt + this.commitMs - 1.2 * this.decodeMs - 20 - now);
  }
}
