// The grant controller: level-triggered. Any change to a grant, a pod or a
// namespace enqueues the grants it can affect; a reconcile reads the caches,
// computes the status, and writes it only when it differs. It runs only
// while this replica leads; informers run on every replica (the webhook
// reads the same grant cache).
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { GRANT_API_VERSION, GRANT_KIND, GRANT_PLURAL, grantKey, type Grant, type GrantStatus } from "../shared/grant.js";
import type { Caches } from "../shared/kube/caches.js";
import type { InformerEvent } from "../shared/kube/informer.js";
import { withSignal } from "../shared/kube/request-signal.js";
import { POLICY_PLURAL, policyVerdict, type Policy, type PolicySet, type PolicyStatus } from "../shared/policy.js";
import { apiError, describeError, isNotFound } from "../shared/kube/client.js";
import type { PodRecord } from "../shared/kube/caches.js";
import type { EventRecorder } from "../shared/kube/events.js";
import type { Logger } from "../shared/logger.js";
import { API_GROUP, API_VERSION } from "../shared/names.js";
import { grantEvents } from "./grant-events.js";
import { assessGrant, sameStatus } from "./grant-status.js";
import { policyStatus, samePolicyStatus } from "./policy-status.js";
import { revocationMode, revokedCounts, revokedPods, type RevocationMode, type RevokedPod } from "./revocation.js";
import { WorkQueue } from "./work-queue.js";
import { NO_RAY_WORKLOAD, rayWorkloadOf, type OwnerRecord, type RayPodOwner } from "../shared/ray-workload.js";

export interface ControllerOptions {
  readonly kubeConfig: KubeConfig;
  readonly caches: Caches;
  readonly operatorNamespace: string;
  readonly events: EventRecorder;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly concurrency?: number;
  readonly resyncIntervalMs?: number;
  readonly now?: () => Date;
  /** DatadogCredentialPolicies; without them every grant is allowed unless requirePolicy. */
  readonly policies?: PolicyCache;
  readonly requirePolicy?: boolean;
  /**
   * The fingerprint of the agent a grant gives a pod today (the webhook's
   * expectedAgentFingerprint with the operator's injection settings): only
   * pods whose agent matches it count as injected.
   */
  readonly expectedAgent: (grant: Grant) => string;
  /** What to do about revoked pods where no policy says (DatadogCredentialPolicy spec.revocation); default Report. */
  readonly revocation?: RevocationMode;
  /** How soon to retry an eviction a PodDisruptionBudget refused; default 30 s. */
  readonly evictionRetryMs?: number;
  /** KubeRay owners (RayClusters, submitter Jobs) as cached: for grants that name Ray workloads. */
  readonly rayOwners?: RayOwnerCache;
}

export interface RayOwnerCache {
  cached(owner: RayPodOwner, namespace: string): OwnerRecord | undefined;
  /** Calls `listener` with the namespace of every owner that comes, changes or goes. */
  onChange(listener: (namespace: string) => void): void;
}

/** Work-queue keys of namespace revocation passes; grant keys are namespace/name, and namespace names hold no ':'. */
const REVOCATION_KEY_PREFIX = "revocation:";
/** Work-queue keys of policy status reconciles (policy names hold no ':' either). */
const POLICY_KEY_PREFIX = "policy:";

export interface PolicyCache {
  list(): Policy[];
  onEvent(handler: (event: InformerEvent<Policy>) => void): () => void;
  waitForSync(timeoutMs: number): Promise<boolean>;
}

/** How often a start still waiting for the caches says so. */
const CACHE_SYNC_REPORT_MS = 60_000;

interface WrittenStatus {
  /** resourceVersion of the cached grant the write was computed from. */
  readonly fromVersion: string | undefined;
  readonly status: GrantStatus;
}

export class GrantController {
  private readonly queue: WorkQueue;
  private readonly api: CustomObjectsApi;
  private readonly core: CoreV1Api;
  /** Revoked pods by namespace, as the last revocation pass found them: the metric's source. */
  private readonly revoked = new Map<string, readonly RevokedPod[]>();
  /** Uids of revoked pods already announced with an Event, by namespace. */
  private readonly announced = new Map<string, ReadonlySet<string>>();
  private readonly metrics;
  private readonly written = new Map<string, WrittenStatus>();
  private resyncTimer: NodeJS.Timeout | undefined;
  private running = false;
  /** Counts start() and stop() calls: a start that is no longer the latest call gives up. */
  private attempts = 0;
  private wakeStart: (() => void) | undefined;
  private term: AbortSignal = new AbortController().signal;

  constructor(private readonly options: ControllerOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.metrics = controllerMetrics(options.registry, options.caches, this.revoked);
    this.queue = new WorkQueue((key) => this.reconcileTimed(key), {
      concurrency: options.concurrency ?? 4,
      onError: (key, error, attempt) =>
        options.logger.warn({ grant: key, attempt, error: describeError(error) }, "reconcile failed; will retry"),
    });
    this.watchCaches();
  }

  /**
   * Starts reconciling (on becoming leader) once every cache has synced, and
   * never before: a status computed from a partial cache would report pods as
   * missed that are merely not listed yet. Writes are made under `term` (the
   * leader's term, aborted when it ends). A stop() while this waits wins: the
   * start then never begins reconciling. Resolves true if it started.
   */
  async start(term: AbortSignal = new AbortController().signal): Promise<boolean> {
    const attempt = ++this.attempts;
    const current = () => attempt === this.attempts && !term.aborted;
    term.addEventListener("abort", () => this.wakeStart?.(), { once: true });
    if (!(await this.waitForCaches(current))) return false;
    this.running = true;
    this.term = term;
    this.written.clear();
    this.queue.start();
    this.enqueueAll();
    this.resyncTimer = setInterval(() => this.enqueueAll(), this.options.resyncIntervalMs ?? 5 * 60_000);
    this.resyncTimer.unref();
    this.options.logger.info({ grants: this.options.caches.grants.size() }, "controller started");
    return true;
  }

  async stop(): Promise<void> {
    this.attempts += 1; // a start() still waiting for the caches gives up
    this.wakeStart?.();
    this.running = false;
    clearInterval(this.resyncTimer);
    await this.queue.stop();
    // Only the leader reports revoked pods.
    this.revoked.clear();
    this.announced.clear();
  }

  /** Waits until every cache has synced, or until `current()` turns false; true only in the first case. */
  private async waitForCaches(current: () => boolean): Promise<boolean> {
    const { caches, logger } = this.options;
    const all = [caches.grants, caches.pods, caches.namespaces, ...(this.options.policies ? [this.options.policies] : [])];
    const startedAt = Date.now();
    while (current()) {
      const interrupted = new Promise<"stopped">((resolve) => (this.wakeStart = () => resolve("stopped")));
      const synced = await Promise.race([Promise.all(all.map((cache) => cache.waitForSync(CACHE_SYNC_REPORT_MS))), interrupted]);
      if (synced !== "stopped" && synced.every(Boolean)) return current();
      if (synced !== "stopped" && current()) {
        logger.warn({ waitedMs: Date.now() - startedAt }, "caches have not synced yet; not reconciling until they have");
      }
    }
    return false;
  }

  /** Keys waiting or in flight, for tests and the benchmark. */
  backlog(): number {
    return this.queue.depth();
  }

  private watchCaches(): void {
    const { caches } = this.options;
    caches.grants.onEvent((event) => {
      this.enqueue(grantKey(event.object));
      // A grant's arrival or departure changes its siblings' conflicts and missed pods.
      if (event.type !== "update" || event.old.metadata.generation !== event.object.metadata.generation) {
        this.enqueueNamespace(event.object.metadata.namespace);
      }
      if (event.type === "delete") this.written.delete(grantKey(event.object));
    });
    caches.pods.onEvent((event) => this.enqueueNamespace(event.object.metadata.namespace));
    caches.namespaces.onEvent((event) => this.enqueueNamespace(event.object.name));
    // A RayCluster or submitter Job reaching the cache places its pods in their Ray workload.
    this.options.rayOwners?.onChange((namespace) => this.enqueueNamespace(namespace));
    // Grants and namespace labels change what each policy allows.
    caches.grants.onEvent(() => this.enqueuePolicies());
    caches.namespaces.onEvent(() => this.enqueuePolicies());
    // A policy can allow or deny grants anywhere; a write of its status alone changes nothing.
    this.options.policies?.onEvent((event) => {
      if (event.type === "update" && event.old.metadata.generation === event.object.metadata.generation) return;
      this.enqueueAll();
    });
  }

  private enqueue(key: string): void {
    if (this.running) this.queue.add(key);
  }

  private enqueueNamespace(namespace: string): void {
    if (!this.running) return;
    for (const grant of this.options.caches.grants.list(namespace)) this.queue.add(grantKey(grant));
    this.queue.add(REVOCATION_KEY_PREFIX + namespace);
  }

  private enqueuePolicies(): void {
    for (const policy of this.options.policies?.list() ?? []) this.enqueue(POLICY_KEY_PREFIX + policy.metadata.name);
  }

  private enqueueAll(): void {
    this.enqueuePolicies();
    for (const grant of this.options.caches.grants.list()) this.enqueue(grantKey(grant));
    for (const namespace of this.options.caches.namespaces.list()) this.enqueue(REVOCATION_KEY_PREFIX + namespace.name);
  }

  private async reconcileTimed(key: string): Promise<void> {
    const stopTimer = this.metrics.duration.startTimer();
    try {
      await this.reconcile(key);
      this.metrics.total.inc({ result: "success" });
    } catch (error) {
      this.metrics.total.inc({ result: "error" });
      throw error;
    } finally {
      stopTimer();
    }
  }

  private async reconcile(key: string): Promise<void> {
    if (!this.running || this.term.aborted) return; // a key taken just before stop()
    if (key.startsWith(REVOCATION_KEY_PREFIX)) return this.reconcileRevocation(key.slice(REVOCATION_KEY_PREFIX.length));
    if (key.startsWith(POLICY_KEY_PREFIX)) return this.reconcilePolicy(key.slice(POLICY_KEY_PREFIX.length));
    const { caches } = this.options;
    const [namespace = "", name = ""] = key.split("/");
    const cached = caches.grants.get(namespace, name);
    if (!cached || cached.metadata.deletionTimestamp) return;
    const previous = this.previousStatus(key, cached);
    const grant: Grant = { ...cached, status: previous };
    const namespaceRecord = caches.namespaces.get("", namespace);
    const policies = this.policySet();
    const allowed = (g: Grant) => policyVerdict(g, namespaceRecord?.labels, policies).allowed;
    const assessment = assessGrant({
      grant,
      namespace: namespaceRecord,
      // What a pod could be injected from: siblings policy allows, plus this grant.
      grantsInNamespace: caches.grants.list(namespace).filter((g) => g === cached || allowed(g)),
      policy: policyVerdict(grant, namespaceRecord?.labels, policies),
      expectedAgent: this.options.expectedAgent(cached),
      podsInNamespace: caches.pods.list(namespace),
      rayWorkloadOf: (pod) => {
        const owners = this.options.rayOwners;
        return pod.rayOwner && owners ? rayWorkloadOf(pod.rayOwner, owners.cached(pod.rayOwner, namespace)) : NO_RAY_WORKLOAD;
      },
      operatorNamespace: this.options.operatorNamespace,
      now: (this.options.now ?? (() => new Date()))(),
    });
    // Announce first, then write: a leader that dies in between leaves the
    // status unchanged, so its successor announces again (Event names are
    // deterministic: a repeat raises the count, it does not duplicate).
    const events = grantEvents(previous, assessment);
    const announced = await this.whileLeading(
      Promise.all(
        events.map((event) =>
          this.options.events.record(
            { apiVersion: GRANT_API_VERSION, kind: GRANT_KIND, metadata: grant.metadata },
            event.type,
            event.reason,
            event.message,
          ),
        ),
      ),
    );
    if (!announced) return;
    if (!sameStatus(previous, assessment.status)) {
      const written = await this.writeStatus(grant, assessment.status);
      if (!written) return;
      this.written.set(key, { fromVersion: cached.metadata.resourceVersion, status: assessment.status });
      this.options.logger.info(
        {
          grant: key,
          reason: assessment.reason,
          injected: assessment.status.injectedPods,
          stale: assessment.status.stalePods,
          missed: assessment.status.missedPods,
        },
        "status updated",
      );
    }
  }

  /** A policy's status: how many grants it allows today, for the generation it was computed from. */
  private async reconcilePolicy(name: string): Promise<void> {
    const { caches } = this.options;
    const policy = this.options.policies?.list().find((p) => p.metadata.name === name);
    if (!policy) return;
    const status = policyStatus(policy, caches.grants.list(), (namespace) => caches.namespaces.get("", namespace)?.labels);
    if (samePolicyStatus(policy.status, status)) return;
    if (await this.writePolicyStatus(name, status)) {
      this.options.logger.info({ policy: name, grantsAllowed: status.grantsAllowed, observedGeneration: status.observedGeneration }, "policy status updated");
    }
  }

  private async writePolicyStatus(name: string, status: PolicyStatus): Promise<boolean> {
    if (!this.running || this.term.aborted) return false;
    try {
      await this.api.patchClusterCustomObjectStatus(
        { group: API_GROUP, version: API_VERSION, plural: POLICY_PLURAL, name, body: { status } },
        withSignal(this.term, setHeaderOptions("Content-Type", PatchStrategy.MergePatch)),
      );
      return true;
    } catch (error) {
      if (isNotFound(error) || this.term.aborted) return false;
      throw error;
    }
  }

  /**
   * Waits for `work` while this replica leads; true once it is done, false
   * when the term ends first. Events go out on their own connections with no
   * deadline of ours, and a reconcile must not keep a stepped-down leader's
   * work queue (and so its next term) waiting on one stalled send.
   */
  private async whileLeading(work: Promise<unknown>): Promise<boolean> {
    const term = this.term;
    if (term.aborted) return false;
    let onAbort: () => void = () => {};
    const ended = new Promise<false>((resolve) => {
      onAbort = () => resolve(false);
      term.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([work.then(() => true as const), ended]);
    } finally {
      term.removeEventListener("abort", onAbort);
    }
  }

  private policySet(): PolicySet {
    return { policies: this.options.policies?.list() ?? [], requirePolicy: this.options.requirePolicy ?? false };
  }

  /**
   * A namespace's revocation pass: finds the live pods whose agent serves a
   * grant that is gone or that policy no longer allows, announces each once
   * with an Event on the pod, and, where policy asks for it, evicts them
   * through the Eviction API (which refuses what a PodDisruptionBudget
   * protects: those are retried later).
   */
  private async reconcileRevocation(namespace: string): Promise<void> {
    const { caches, events, logger } = this.options;
    const namespaceRecord = caches.namespaces.get("", namespace);
    const policies = this.policySet();
    const revoked = revokedPods({
      namespace,
      pods: caches.pods.list(namespace),
      grants: caches.grants.list(namespace),
      verdict: (grant) => policyVerdict(grant, namespaceRecord?.labels, policies),
    });
    if (revoked.length === 0) {
      this.revoked.delete(namespace);
      this.announced.delete(namespace);
      return;
    }
    this.revoked.set(namespace, revoked);
    const mode = revocationMode(namespace, namespaceRecord?.labels, policies.policies, this.options.revocation ?? "Report");
    const announced = this.announced.get(namespace) ?? new Set<string>();
    const nowAnnounced = new Set<string>();
    let blocked = 0;
    for (const entry of revoked) {
      if (this.term.aborted) return;
      const uid = entry.pod.metadata.uid;
      if (!announced.has(uid)) {
        const next = mode === "Evict" ? "evicting it" : "restart or delete it, or set revocation: Evict on the DatadogCredentialPolicy";
        if (!(await this.whileLeading(events.record(podTarget(entry.pod), "Warning", "CredentialsRevoked", `${entry.message}; ${next}`)))) return;
        logger.warn({ pod: `${namespace}/${entry.pod.metadata.name}`, grant: entry.grant, reason: entry.reason, mode }, "credentials revoked");
      }
      nowAnnounced.add(uid);
      if (mode === "Evict" && (await this.evict(entry)) === "blocked") blocked += 1;
    }
    this.announced.set(namespace, nowAnnounced);
    if (blocked > 0) this.queue.addAfter(REVOCATION_KEY_PREFIX + namespace, this.options.evictionRetryMs ?? 30_000);
  }

  /** Evicts a revoked pod; "blocked" when a PodDisruptionBudget does not allow it now. */
  private async evict(entry: RevokedPod): Promise<"evicted" | "blocked" | "gone"> {
    const { namespace, name, uid } = entry.pod.metadata;
    try {
      await this.core.createNamespacedPodEviction(
        {
          name,
          namespace,
          // The uid precondition: never evict a newer pod that took the same name.
          body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace }, deleteOptions: { preconditions: { uid } } },
        },
        withSignal(this.term),
      );
      this.metrics.evictions.inc({ result: "evicted" });
      this.options.logger.info({ pod: `${namespace}/${name}`, grant: entry.grant, reason: entry.reason }, "evicted a pod whose credentials were revoked");
      return "evicted";
    } catch (error) {
      const code = apiError(error)?.code;
      if (code === 404 || code === 409 || this.term.aborted) return "gone";
      if (code !== 429) throw error;
      this.metrics.evictions.inc({ result: "blocked" });
      const why = apiError(error)?.message ?? "its PodDisruptionBudget allows no disruption now";
      const message = `could not evict pod ${name}, whose credentials were revoked: ${why}; retrying`;
      await this.whileLeading(this.options.events.record(podTarget(entry.pod), "Warning", "EvictionBlocked", message));
      return "blocked";
    }
  }

  /**
   * The status we last wrote while the cache has not caught up with it yet,
   * else the cached one: a reconcile right after a write must not write or
   * announce the same change again.
   */
  private previousStatus(key: string, cached: Grant): GrantStatus | undefined {
    const written = this.written.get(key);
    if (written && written.fromVersion === cached.metadata.resourceVersion) return written.status;
    this.written.delete(key);
    return cached.status;
  }

  private async writeStatus(grant: Grant, status: GrantStatus): Promise<boolean> {
    // Only while leading: the term's signal cancels a write still in flight when it ends.
    if (!this.running || this.term.aborted) return false;
    try {
      await this.api.patchNamespacedCustomObjectStatus(
        {
          group: API_GROUP,
          version: API_VERSION,
          plural: GRANT_PLURAL,
          namespace: grant.metadata.namespace,
          name: grant.metadata.name,
          body: { status },
        },
        withSignal(this.term, setHeaderOptions("Content-Type", PatchStrategy.MergePatch)),
      );
      return true;
    } catch (error) {
      if (isNotFound(error)) return false; // deleted meanwhile: nothing left to report on
      if (this.term.aborted) return false; // no longer leading: the next leader writes it
      throw error;
    }
  }
}

function podTarget(pod: PodRecord) {
  const { name, namespace, uid } = pod.metadata;
  return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace, uid } };
}

function controllerMetrics(registry: Registry, caches: Caches, revoked: ReadonlyMap<string, readonly RevokedPod[]>) {
  return {
    revoked: new Gauge({
      name: "ddcred_revoked_pods",
      help: "Live pods running a credential agent for a grant that no longer exists (GrantDeleted) or that policy no longer allows (PolicyDenied, PolicyRequired). Reported by the leader only.",
      labelNames: ["grant_namespace", "grant", "reason"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [namespace, pods] of revoked) {
          for (const { grant, reason, count } of revokedCounts(pods).values()) this.set({ grant_namespace: namespace, grant, reason }, count);
        }
      },
    }),
    evictions: new Counter({
      name: "ddcred_revocation_evictions_total",
      help: "Evictions of pods whose credentials were revoked, by result (evicted; blocked: a PodDisruptionBudget refused it for now).",
      labelNames: ["result"],
      registers: [registry],
    }),
    total: new Counter({
      name: "ddcred_reconcile_total",
      help: "Grant reconciles by result (success, error).",
      labelNames: ["result"],
      registers: [registry],
    }),
    duration: new Histogram({
      name: "ddcred_reconcile_duration_seconds",
      help: "Time to reconcile one grant.",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    grants: new Gauge({
      name: "ddcred_grants",
      help: "Grants by the status of their Ready condition (true, false, unknown).",
      labelNames: ["ready"],
      registers: [registry],
      collect() {
        const counts = { true: 0, false: 0, unknown: 0 };
        for (const grant of caches.grants.list()) {
          const ready = grant.status?.conditions?.find((c) => c.type === "Ready")?.status;
          counts[ready === "True" ? "true" : ready === "False" ? "false" : "unknown"] += 1;
        }
        for (const [ready, value] of Object.entries(counts)) this.set({ ready }, value);
      },
    }),
    pods: new Gauge({
      name: "ddcred_grant_pods",
      help: "Pods per grant as its status reports them, by state (injected, stale, missed, revoked). grant_namespace, not namespace, so Prometheus's own target label is left alone.",
      labelNames: ["grant_namespace", "grant", "state"],
      registers: [registry],
      collect() {
        this.reset(); // deleted grants disappear
        for (const grant of caches.grants.list()) {
          const { status, metadata } = grant;
          if (!status) continue;
          const labels = { grant_namespace: metadata.namespace, grant: metadata.name };
          this.set({ ...labels, state: "injected" }, status.injectedPods ?? 0);
          this.set({ ...labels, state: "stale" }, status.stalePods ?? 0);
          this.set({ ...labels, state: "missed" }, status.missedPods ?? 0);
          this.set({ ...labels, state: "revoked" }, status.revokedPods ?? 0);
        }
      },
    }),
  };
}
