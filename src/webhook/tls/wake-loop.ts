// A background loop that runs one step at a time: again when woken, at the
// time the last step asked for, or after a capped backoff when it failed.
// Steps never overlap, so a step can read-decide-write without locks.

export interface WakeLoopOptions {
  /** One pass; resolves with when to run next (epoch ms), or undefined for "only when woken". */
  readonly step: () => Promise<number | undefined>;
  readonly onError: (error: unknown, failures: number) => void;
  readonly now?: () => number;
  /** Longest sleep whatever the step asked (timers overflow past ~24.8 days; a periodic check is cheap). */
  readonly maxSleepMs?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}

export class WakeLoop {
  private stopped = false;
  private woken = false;
  private wakeUp: (() => void) | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: WakeLoopOptions) {}

  start(): void {
    this.running ??= this.run();
  }

  /** Run a step soon (after the current one, if any). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.running;
  }

  private async run(): Promise<void> {
    const now = this.options.now ?? Date.now;
    let failures = 0;
    while (!this.stopped) {
      this.woken = false;
      let nextAt: number | undefined;
      try {
        nextAt = await this.options.step();
        failures = 0;
      } catch (error) {
        failures += 1;
        this.options.onError(error, failures);
        const ceiling = Math.min(this.options.backoffMaxMs ?? 60_000, (this.options.backoffBaseMs ?? 500) * 2 ** Math.min(failures - 1, 16));
        nextAt = now() + ceiling / 2 + Math.random() * (ceiling / 2);
      }
      if (this.stopped) break;
      // After a failure, back off whatever wakes us: retrying on every event would hammer a sick API server.
      const backingOff = failures > 0;
      if (this.woken && !backingOff) continue;
      const sleepMs = Math.min(this.options.maxSleepMs ?? 3_600_000, nextAt === undefined ? Number.POSITIVE_INFINITY : Math.max(0, nextAt - now()));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, sleepMs);
        this.wakeUp = () => {
          if (backingOff && !this.stopped) return;
          done();
        };
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
      this.wakeUp = undefined;
    }
  }
}
