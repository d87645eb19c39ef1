/**
 * Holds back streamed text that could be the start of a stop string, so a client never receives
 * part of a stop string, and reports when one is complete.
 */
export interface StopStringStep {
  /** Text that is final and may be sent to the client. */
  text: string;
  /** True when a stop string was found: generation must end; `text` ends just before it. */
  stopped: boolean;
}

export class StopStringMatcher {
  private pending = "";

  constructor(private readonly stops: readonly string[]) {}

  push(text: string): StopStringStep {
    if (this.stops.length === 0) return { text, stopped: false };
    this.pending += text;
    let earliest = -1;
    for (const stop of this.stops) {
      const index = this.pending.indexOf(stop);
      if (index >= 0 && (earliest < 0 || index < earliest)) earliest = index;
    }
    if (earliest >= 0) {
      const before = this.pending.slice(0, earliest);
      this.pending = "";
      return { text: before, stopped: true };
    }
    const keep = this.longestSuffixThatStartsAStop();
    const ready = this.pending.slice(0, this.pending.length - keep);
    this.pending = this.pending.slice(this.pending.length - keep);
    return { text: ready, stopped: false };
  }

  /** Text still held back when generation ends for another reason: it was not a stop string. */
  flush(): string {
    const rest = this.pending;
    this.pending = "";
    return rest;
  }

  private longestSuffixThatStartsAStop(): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let length = Math.min(stop.length - 1, this.pending.length); length > longest; length--) {
        if (this.pending.endsWith(stop.slice(0, length))) {
          longest = length;
          break;
        }
      }
    }
    return longest;
  }
}
