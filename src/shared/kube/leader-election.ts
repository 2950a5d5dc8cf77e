// Leader election through a coordination.k8s.io/v1 Lease, with client-go's
// rules: a lease is free when its holder has not renewed it within its
// duration as observed on OUR clock (remote clocks are not trusted), writes
// use the resourceVersion so two candidates cannot both win, a leader that
// cannot renew within renewDeadline steps down, and a clean stop releases the
// lease so a successor need not wait it out.
import { CoordinationV1Api, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "../logger.js";
import { describeError, isConflict, isNotFound } from "./client.js";

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
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly logger: Logger;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => Promise<void> | void;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private leading = false;
  private stopped = false;
  private observed: { key: string; atMs: number } = { key: "", atMs: 0 };
  private lease: V1Lease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastRenewMs = 0;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: LeaderElectionOptions) {
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops campaigning; a leader steps down and releases the lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    if (this.leading) {
      this.leading = false;
      await this.options.onStoppedLeading();
      await this.release();
    }
  }

  private wake: (() => void) | undefined;

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms * (1 + Math.random() * 0.2));
    });
  }

  private async run(): Promise<void> {
    const retry = this.options.retryPeriodMs ?? 2000;
    const renewDeadline = this.options.renewDeadlineMs ?? 10_000;
    while (!this.stopped) {
      const ok = await this.tryAcquireOrRenew();
      const now = Date.now();
      if (ok) {
        this.lastRenewMs = now;
        if (!this.leading) {
          this.leading = true;
          this.options.logger.info({ lease: this.options.name, identity: this.options.identity }, "became leader");
          this.options.onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenewMs > renewDeadline) {
        this.leading = false;
        this.options.logger.warn({ lease: this.options.name }, "could not renew the lease in time; stepping down");
        await this.options.onStoppedLeading();
      }
      if (!this.stopped) await this.sleep(retry);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const duration = this.options.leaseDurationSeconds ?? 15;
    const now = new Date();
    try {
      let current: V1Lease | undefined;
      try {
        current = await this.api.readNamespacedLease({ name, namespace });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      if (!current) {
        const spec = nextLeaseRecord(undefined, identity, now, duration);
        this.lease = await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec as V1Lease["spec"] } });
        return true;
      }
      const record = current.spec as LeaseRecord | undefined;
      const key = JSON.stringify([record?.holderIdentity, record?.renewTime, record?.leaseDurationSeconds]);
      if (key !== this.observed.key) this.observed = { key, atMs: now.getTime() };
      if (heldByOther(record, identity, this.observed.atMs, now.getTime())) return false;
      const spec = nextLeaseRecord(record, identity, now, duration);
      this.lease = await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: { ...current, spec: spec as V1Lease["spec"] },
      });
      return true;
    } catch (error) {
      if (!isConflict(error)) {
        this.options.logger.warn({ lease: name, error: describeError(error) }, "lease update failed");
      }
      return false;
    }
  }

  private async release(): Promise<void> {
    if (!this.lease) return;
    const { namespace, name } = this.options;
    try {
      const current = await this.api.readNamespacedLease({ name, namespace });
      if ((current.spec as LeaseRecord | undefined)?.holderIdentity !== this.options.identity) return;
      const released: LeaseRecord = { ...(current.spec as LeaseRecord), holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(new Date()) };
      await this.api.replaceNamespacedLease({ name, namespace, body: { ...current, spec: released as V1Lease["spec"] } });
      this.options.logger.info({ lease: name }, "released the lease");
    } catch (error) {
      this.options.logger.warn({ lease: name, error: describeError(error) }, "could not release the lease; the next leader waits for it to expire");
    }
  }
}
