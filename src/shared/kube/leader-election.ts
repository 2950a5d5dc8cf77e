// Leader election through a coordination.k8s.io/v1 Lease, with client-go's
// rules: a lease is free when its holder has not renewed it within its
// duration as observed on OUR clock (remote clocks are not trusted), writes
// use the resourceVersion so two candidates cannot both win, a leader that
// cannot renew within renewDeadline steps down, and a clean stop releases the
// lease so a successor need not wait it out.
//
// Like client-go, every API call carries a deadline, and leadership ends on a
// timer, renewDeadline after the start of the last successful renewal, whether
// or not the attempt in flight has returned: a call hung on a half-open
// connection cannot keep us leading. Each term hands the leader an AbortSignal
// that fires as the term ends, so writes made under it (grant status) are
// cancelled by then, before any other candidate can see the lease as expired
// (leaseDuration after it last saw it change, on its own clock).
import { CoordinationV1Api, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "../logger.js";
import { describeError, isConflict, isNotFound } from "./client.js";
import { withSignal } from "./request-signal.js";

export interface LeaseRecord {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/**
 * Whether another holder still owns the lease: it has a holder other than
 * us and we observed its record change less than leaseDuration ago.
 */
export function heldByOther(record: LeaseRecord | undefined, identity: string, observedAtMs: number, nowMs: number): boolean {
  if (!record?.holderIdentity || record.holderIdentity === identity) return false;
  const durationMs = (record.leaseDurationSeconds ?? 15) * 1000;
  return observedAtMs + durationMs > nowMs;
}

export function nextLeaseRecord(old: LeaseRecord | undefined, identity: string, now: Date, durationSeconds: number): LeaseRecord {
  const ours = old?.holderIdentity === identity;
  return {
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime: ours && old?.acquireTime ? old.acquireTime : microTime(now),
    renewTime: microTime(now),
    leaseTransitions: ours ? (old?.leaseTransitions ?? 0) : (old?.leaseTransitions ?? 0) + (old?.holderIdentity ? 1 : 0),
  };
}

export interface LeaderElectionOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationSeconds?: number;
  /** How long a leader keeps trying to renew before it steps down; shorter than the lease duration. */
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly logger: Logger;
  /** `term` aborts when this term ends: pass it to every write made as leader. */
  readonly onStartedLeading: (term: AbortSignal) => void;
  readonly onStoppedLeading: () => Promise<void> | void;
}

/** The end of the current term: renewDeadline after the start of the last successful renewal. */
export function termEndsAt(lastRenewStartedAtMs: number, renewDeadlineMs: number): number {
  return lastRenewStartedAtMs + renewDeadlineMs;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly durationSeconds: number;
  private term: AbortController | undefined;
  private termTimer: NodeJS.Timeout | undefined;
  private termEndsAtMs = 0;
  private steppingDown: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly stopping = new AbortController();
  private observed: { key: string; atMs: number } = { key: "", atMs: 0 };
  private lease: V1Lease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: LeaderElectionOptions) {
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.durationSeconds = options.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2000;
    if (this.renewDeadlineMs >= this.durationSeconds * 1000) {
      throw new Error("the renew deadline must be shorter than the lease duration");
    }
  }

  get isLeader(): boolean {
    return this.term !== undefined;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops campaigning; a leader steps down and releases the lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    const wasLeading = this.isLeader;
    this.endTerm("stopping");
    await this.steppingDown;
    if (wasLeading) await this.release();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms * (1 + Math.random() * 0.2));
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const startedAt = Date.now();
      // A leader's attempt may last until its term ends; a candidate's, one renew deadline.
      const deadline = this.isLeader ? this.termEndsAtMs : startedAt + this.renewDeadlineMs;
      const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(Math.max(1, deadline - startedAt))]);
      const ok = await this.tryAcquireOrRenew(signal);
      if (ok && !this.stopped && Date.now() < termEndsAt(startedAt, this.renewDeadlineMs)) {
        await this.extendTerm(startedAt);
      }
      if (!this.stopped) await this.sleep(this.retryPeriodMs);
    }
  }

  private async extendTerm(renewStartedAtMs: number): Promise<void> {
    if (!this.isLeader) {
      await this.steppingDown; // the previous term's work has stopped before a new one starts
      if (this.stopped) return;
      this.term = new AbortController();
      this.options.logger.info({ lease: this.options.name, identity: this.options.identity }, "became leader");
      this.options.onStartedLeading(this.term.signal);
    }
    this.termEndsAtMs = termEndsAt(renewStartedAtMs, this.renewDeadlineMs);
    this.options.logger.debug({ lease: this.options.name, renewStartedAt: renewStartedAtMs, termEndsAt: this.termEndsAtMs }, "renewed the lease");
    clearTimeout(this.termTimer);
    this.termTimer = setTimeout(() => this.endTerm("renew deadline passed"), this.termEndsAtMs - Date.now());
  }

  /** Ends the term now: its signal aborts, and the leader's work is told to stop. */
  private endTerm(why: string): void {
    clearTimeout(this.termTimer);
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    term.abort(new Error(`leadership ended: ${why}`));
    if (why !== "stopping") {
      this.options.logger.warn({ lease: this.options.name, why }, "could not renew the lease in time; stepping down");
    }
    const previous = this.steppingDown;
    this.steppingDown = previous.then(async () => {
      try {
        await this.options.onStoppedLeading();
      } catch (error) {
        this.options.logger.warn({ lease: this.options.name, error: describeError(error) }, "stopping the leader's work failed");
      }
    });
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const duration = this.durationSeconds;
    const now = new Date();
    const options = withSignal(signal);
    try {
      let current: V1Lease | undefined;
      try {
        current = await this.api.readNamespacedLease({ name, namespace }, options);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      if (!current) {
        const spec = nextLeaseRecord(undefined, identity, now, duration);
        this.lease = await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec as V1Lease["spec"] } }, options);
        return true;
      }
      const record = current.spec as LeaseRecord | undefined;
      const key = JSON.stringify([record?.holderIdentity, record?.renewTime, record?.leaseDurationSeconds]);
      if (key !== this.observed.key) this.observed = { key, atMs: now.getTime() };
      if (heldByOther(record, identity, this.observed.atMs, now.getTime())) {
        this.options.logger.debug({ lease: name, holder: record?.holderIdentity }, "lease held by another replica");
        return false;
      }
      const spec = nextLeaseRecord(record, identity, now, duration);
      this.lease = await this.api.replaceNamespacedLease({ name, namespace, body: { ...current, spec: spec as V1Lease["spec"] } }, options);
      return true;
    } catch (error) {
      if (signal.aborted && !this.stopped) {
        this.options.logger.warn({ lease: name }, "lease call did not finish before its deadline; cancelled");
      } else if (!isConflict(error) && !this.stopped) {
        this.options.logger.warn({ lease: name, error: describeError(error) }, "lease update failed");
      }
      return false;
    }
  }

  private async release(): Promise<void> {
    if (!this.lease) return;
    const { namespace, name } = this.options;
    const options = withSignal(AbortSignal.timeout(this.renewDeadlineMs));
    try {
      const current = await this.api.readNamespacedLease({ name, namespace }, options);
      if ((current.spec as LeaseRecord | undefined)?.holderIdentity !== this.options.identity) return;
      const released: LeaseRecord = { ...(current.spec as LeaseRecord), holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(new Date()) };
      await this.api.replaceNamespacedLease({ name, namespace, body: { ...current, spec: released as V1Lease["spec"] } }, options);
      this.options.logger.info({ lease: name }, "released the lease");
    } catch (error) {
      this.options.logger.warn({ lease: name, error: describeError(error) }, "could not release the lease; the next leader waits for it to expire");
    }
  }
}
