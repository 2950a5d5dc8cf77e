// A keyed work queue with client-go's guarantees: a key is processed by one
// worker at a time, a key added while it is being processed runs once more
// afterwards, and failures are retried with per-key exponential backoff.
export interface WorkQueueOptions {
  readonly concurrency: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly onError: (key: string, error: unknown, attempt: number) => void;
}

export class WorkQueue {
  private readonly pending: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, NodeJS.Timeout>();
  private readonly idleWaiters: Array<() => void> = [];
  private active = 0;
  private running = false;

  constructor(
    private readonly worker: (key: string) => Promise<void>,
    private readonly options: WorkQueueOptions,
  ) {}

  start(): void {
    this.running = true;
    this.pump();
  }

  /** Stops taking work and waits for in-flight keys; queued keys are dropped. */
  async stop(): Promise<void> {
    this.running = false;
    for (const timer of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.pending.length = 0;
    this.queued.clear();
    this.dirty.clear();
    this.failures.clear();
    if (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  add(key: string): void {
    if (!this.running) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.pending.push(key);
    this.pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (!this.running || this.delayed.has(key)) return;
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.delayed.set(key, timer);
  }

  /** Keys waiting or running: for metrics and tests. */
  depth(): number {
    return this.pending.length + this.active;
  }

  private pump(): void {
    while (this.running && this.active < this.options.concurrency && this.pending.length > 0) {
      const key = this.pending.shift() as string;
      this.queued.delete(key);
      this.processing.add(key);
      this.active += 1;
      void this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    try {
      await this.worker(key);
      this.failures.delete(key);
    } catch (error) {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      this.options.onError(key, error, attempt);
      const base = this.options.baseDelayMs ?? 100;
      const delay = Math.min(this.options.maxDelayMs ?? 60_000, base * 2 ** Math.min(attempt - 1, 20));
      this.addAfter(key, delay);
    } finally {
      this.processing.delete(key);
      this.active -= 1;
      if (this.dirty.delete(key)) this.add(key);
      if (this.active === 0 && (!this.running || this.pending.length === 0)) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
      }
      this.pump();
    }
  }
}
