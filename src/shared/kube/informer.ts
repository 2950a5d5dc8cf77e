// A list-watch cache, written here rather than taken from client-node's
// makeInformer because that one stops for good on any watch
// error but 410, never resyncs, does not re-emit objects after a restart,
// and keeps whole objects, while the controller watches every pod in the
// cluster and needs only a few fields of each. This one:
//   - lists (paginated) then watches from the list's resourceVersion, with bookmarks;
//   - on any error retries with capped, jittered backoff, relisting on 410;
//   - in steady state never relists: a watch resumes from the last
//     resourceVersion it saw (bookmarks keep it fresh), as client-go's
//     reflector does; a relist (paginated, diffed) happens only on 410, on an
//     error, when asked (the operator's watchdog asks when a cache falls
//     silent), or periodically if resyncIntervalMs is set;
//   - stores transform(object), frozen, indexed by namespace;
//   - emits add/update/delete for every difference it learns, relists included.
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import { describeError } from "./client.js";

export interface ListPage<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
  readonly continueToken?: string;
}

export type ListFunction<T> = (options: { limit: number; continueToken?: string }) => Promise<ListPage<T>>;

export interface InformerLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface InformerOptions<T, R> {
  readonly name: string;
  readonly kubeConfig: KubeConfig;
  /** Collection path to watch, e.g. /api/v1/pods. */
  readonly watchPath: string;
  readonly list: ListFunction<T>;
  readonly labelSelector?: string;
  /** e.g. metadata.name=x: RBAC grants list/watch on a resourceName only through this selector. */
  readonly fieldSelector?: string;
  /** Keeps only what the program needs of each object. */
  readonly transform: (object: T) => R;
  readonly namespaceOf: (record: R) => string;
  readonly nameOf: (record: R) => string;
  /** Relist this often even when the watch is healthy; unset: never (the default). */
  readonly resyncIntervalMs?: number;
  readonly logger: InformerLogger;
  /** Server-side watch timeout; client-node aborts a watch after 30 s without data. */
  readonly watchTimeoutSeconds?: number;
}

export type InformerEvent<R> =
  | { readonly type: "add"; readonly object: R }
  | { readonly type: "update"; readonly object: R; readonly old: R }
  | { readonly type: "delete"; readonly object: R };

export interface InformerHealth {
  readonly synced: boolean;
  /** Epoch ms of the last successful list or watch event. */
  readonly lastContactAt: number;
  readonly consecutiveFailures: number;
}

/** What readers of a cache need: lookups and sync state, whatever the source type. */
export interface ReadCache<R> {
  get(namespace: string, name: string): R | undefined;
  list(namespace?: string): R[];
  hasSynced(): boolean;
  waitForSync(timeoutMs: number): Promise<boolean>;
}

/** What supervisors (watchdog, probes, shutdown) need of any informer. */
export interface SupervisedCache {
  health(): InformerHealth;
  hasSynced(): boolean;
  requestRelist(why: string): void;
  stop(): Promise<void>;
}

interface RawWatchObject {
  metadata?: { resourceVersion?: string };
  code?: number;
  message?: string;
}

const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 30_000;

export class Informer<T, R> implements SupervisedCache, ReadCache<R> {
  private readonly byNamespace = new Map<string, Map<string, R>>();
  private readonly handlers = new Set<(event: InformerEvent<R>) => void>();
  private readonly syncWaiters = new Set<() => void>();
  private resourceVersion = "";
  private synced = false;
  private stopped = true;
  private failures = 0;
  private lastContactAt = 0;
  private watchAbort: AbortController | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private wakeUp: (() => void) | undefined;
  private relistRequested = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: InformerOptions<T, R>) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
    const every = this.options.resyncIntervalMs;
    if (every !== undefined) {
      this.resyncTimer = setInterval(() => this.requestRelist("periodic resync"), every);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.watchAbort?.abort();
    this.wakeUp?.();
    await this.loop;
  }

  onEvent(handler: (event: InformerEvent<R>) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.syncWaiters.delete(done);
        resolve(this.synced);
      };
      const timer = setTimeout(done, timeoutMs);
      this.syncWaiters.add(done);
    });
  }

  health(): InformerHealth {
    return { synced: this.synced, lastContactAt: this.lastContactAt, consecutiveFailures: this.failures };
  }

  get(namespace: string, name: string): R | undefined {
    return this.byNamespace.get(namespace)?.get(name);
  }

  list(namespace?: string): R[] {
    if (namespace !== undefined) return [...(this.byNamespace.get(namespace)?.values() ?? [])];
    return [...this.byNamespace.values()].flatMap((records) => [...records.values()]);
  }

  size(): number {
    let total = 0;
    for (const records of this.byNamespace.values()) total += records.size;
    return total;
  }

  /** Ask for a full relist at the next opportunity (the watch is restarted). */
  requestRelist(why: string): void {
    if (this.stopped) return;
    this.options.logger.info({ informer: this.options.name, why }, "relisting");
    this.relistRequested = true;
    this.watchAbort?.abort();
  }

  private async run(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList || this.relistRequested) {
          this.relistRequested = false;
          await this.relist();
        }
        const outcome = await this.watchOnce();
        needList = outcome === "expired";
        if (outcome === "failed") await this.backoff();
      } catch (error) {
        if (this.stopped) break;
        this.options.logger.warn(
          { informer: this.options.name, failures: this.failures + 1, error: describeError(error) },
          "list failed; retrying",
        );
        needList = true;
        await this.backoff();
      }
    }
  }

  private async relist(): Promise<void> {
    const fresh = new Map<string, Map<string, R>>();
    let continueToken: string | undefined;
    let resourceVersion = "";
    do {
      const page = await this.options.list({ limit: 500, ...(continueToken ? { continueToken } : {}) });
      for (const item of page.items) {
        const record = Object.freeze(this.options.transform(item));
        const namespace = this.options.namespaceOf(record);
        let records = fresh.get(namespace);
        if (!records) fresh.set(namespace, (records = new Map()));
        records.set(this.options.nameOf(record), record);
      }
      resourceVersion = page.resourceVersion;
      continueToken = page.continueToken;
    } while (continueToken);
    this.replaceAll(fresh);
    this.resourceVersion = resourceVersion;
    this.failures = 0;
    this.markContact();
    if (!this.synced) {
      this.synced = true;
      for (const waiter of [...this.syncWaiters]) waiter();
    }
  }

  private replaceAll(fresh: Map<string, Map<string, R>>): void {
    const previous = new Map(this.byNamespace);
    this.byNamespace.clear();
    for (const [namespace, records] of fresh) this.byNamespace.set(namespace, records);
    for (const [namespace, records] of fresh) {
      const before = previous.get(namespace);
      for (const [name, record] of records) {
        const old = before?.get(name);
        if (old === undefined) this.emit({ type: "add", object: record });
        else if (!sameRecord(old, record)) this.emit({ type: "update", object: record, old });
      }
    }
    for (const [namespace, records] of previous) {
      for (const [name, record] of records) {
        if (!fresh.get(namespace)?.has(name)) this.emit({ type: "delete", object: record });
      }
    }
  }

  /** Watches from the current resourceVersion until the stream ends. */
  private watchOnce(): Promise<"ended" | "expired" | "failed"> {
    return new Promise((resolve) => {
      let outcome: "ended" | "expired" | "failed" = "ended";
      const watch = new Watch(this.options.kubeConfig);
      const params: Record<string, string | number | boolean> = {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: this.options.watchTimeoutSeconds ?? 25,
      };
      if (this.options.labelSelector) params.labelSelector = this.options.labelSelector;
      if (this.options.fieldSelector) params.fieldSelector = this.options.fieldSelector;
      watch
        .watch(
          this.options.watchPath,
          params,
          (type: string, object: T & RawWatchObject) => {
            if (type === "ERROR") {
              // 410 Gone: our resourceVersion is too old to resume from.
              outcome = object.code === 410 ? "expired" : "failed";
              if (outcome === "failed") {
                this.options.logger.warn({ informer: this.options.name, error: object.message }, "watch error event");
              }
              this.watchAbort?.abort();
              return;
            }
            this.markContact();
            const version = object.metadata?.resourceVersion;
            if (version) this.resourceVersion = version;
            if (type === "BOOKMARK") return;
            this.applyWatchEvent(type, object);
          },
          (error: unknown) => {
            if (error && !this.stopped && !this.relistRequested && outcome === "ended") {
              const text = describeError(error);
              // A quiet watch aborted by client-node's inactivity timer is routine.
              if (!/aborted|timeout/i.test(text)) {
                outcome = "failed";
                this.options.logger.warn({ informer: this.options.name, error: text }, "watch failed");
              }
            }
            if (outcome !== "failed") {
              this.failures = 0;
              this.markContact();
            }
            resolve(outcome);
          },
        )
        .then(
          (abort) => {
            this.watchAbort = abort;
            if (this.stopped || this.relistRequested) abort.abort();
          },
          () => resolve("failed"),
        );
    });
  }

  private applyWatchEvent(type: string, object: T): void {
    const record = Object.freeze(this.options.transform(object));
    const namespace = this.options.namespaceOf(record);
    const name = this.options.nameOf(record);
    let records = this.byNamespace.get(namespace);
    if (type === "DELETED") {
      const old = records?.get(name);
      records?.delete(name);
      if (records?.size === 0) this.byNamespace.delete(namespace);
      this.emit({ type: "delete", object: old ?? record });
      return;
    }
    if (!records) this.byNamespace.set(namespace, (records = new Map()));
    const old = records.get(name);
    records.set(name, record);
    if (old === undefined) this.emit({ type: "add", object: record });
    else this.emit({ type: "update", object: record, old });
  }

  private emit(event: InformerEvent<R>): void {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (error) {
        this.options.logger.warn({ informer: this.options.name, error: describeError(error) }, "event handler threw");
      }
    }
  }

  private markContact(): void {
    this.lastContactAt = Date.now();
  }

  private backoff(): Promise<void> {
    this.failures += 1;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.failures, 16));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    return new Promise((resolve) => {
      const timer = setTimeout(done, delay);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}

/** Records are rebuilt from each object; compare by content to skip no-op updates on relist. */
function sameRecord(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
