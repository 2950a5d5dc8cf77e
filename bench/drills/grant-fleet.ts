// Hundreds of grants for the controller drills, each with one pod the webhook
// injected (as it leaves them: the agent and the markers) and every tenth with
// one pod the webhook missed, so each grant has a status whose counts can be
// checked exactly: Ready, observedGeneration, injectedPods, stalePods,
// missedPods.
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { GRANT_PLURAL, type Grant } from "../../src/shared/grant.js";
import { API_GROUP, API_VERSION } from "../../src/shared/names.js";
import { createGrant, createNamespace, grantSpec, patchGrantSpec, readyCondition, simplePod } from "../../test/harness/kube.js";
import { injectedBy, operatorInjectionSettings } from "../../test/webhook/support/injected-pod.js";
import { AGENT_IMAGE } from "./control-plane.js";

const PER_NAMESPACE = 20;

export interface GrantRef {
  readonly namespace: string;
  readonly name: string;
  readonly index: number;
}

export interface ExpectedStatus {
  readonly ready: "True" | "False";
  readonly reason: string;
  readonly injectedPods: number;
  readonly stalePods: number;
  readonly missedPods: number;
  /** Pods still running an agent of a grant that policy now denies (absent: none). */
  readonly revokedPods?: number;
}

export interface GrantFleet {
  readonly grants: readonly GrantRef[];
  /** Every grant as listed now. */
  list(): Promise<Grant[]>;
  /** Grants whose stored status is exactly what `expected` says, at their current generation. */
  converged(expected: (grant: GrantRef) => ExpectedStatus): Promise<{ converged: number; total: number; wrong: Grant[] }>;
  /** Changes the spec of these grants (a new generation; their pods become stale). */
  bumpGeneration(refs: readonly GrantRef[]): Promise<void>;
}

export async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

export function hasMissedPod(ref: GrantRef): boolean {
  return ref.index % 10 === 0;
}

export async function createGrantFleet(admin: KubeConfig, count: number): Promise<GrantFleet> {
  const core = admin.makeApiClient(CoreV1Api);
  const custom = admin.makeApiClient(CustomObjectsApi);
  const namespaces: string[] = [];
  for (let i = 0; i < count; i += PER_NAMESPACE) namespaces.push(await createNamespace(admin, { prefix: "fleet", injection: true }));
  const grants: GrantRef[] = Array.from({ length: count }, (_, index) => ({
    namespace: namespaces[Math.floor(index / PER_NAMESPACE)]!,
    name: `grant-${index}`,
    index,
  }));
  await inParallel(grants, 8, async (ref) => {
    const grant = await createGrant(admin, ref.namespace, ref.name, grantSpec({ podSelector: { matchLabels: { app: ref.name } } }));
    // As the webhook of the drills' operator leaves it: the controller counts only that agent.
    const pod = injectedBy(simplePod(`pod-${ref.index}`, { app: ref.name }), grant, operatorInjectionSettings({ DDCRED_AGENT_IMAGE: AGENT_IMAGE }, "ddcred-system"));
    await core.createNamespacedPod({ namespace: ref.namespace, body: pod });
    if (hasMissedPod(ref)) await core.createNamespacedPod({ namespace: ref.namespace, body: simplePod(`missed-${ref.index}`, { app: ref.name }) });
  });

  const list = async () =>
    ((await custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL })) as { items: Grant[] }).items;
  const byKey = new Map(grants.map((ref) => [`${ref.namespace}/${ref.name}`, ref]));
  return {
    grants,
    list,
    async converged(expected) {
      const items = await list();
      const wrong: Grant[] = [];
      let converged = 0;
      for (const grant of items) {
        const ref = byKey.get(`${grant.metadata.namespace}/${grant.metadata.name}`);
        if (ref && statusIs(grant, expected(ref))) converged += 1;
        else wrong.push(grant);
      }
      return { converged, total: items.length, wrong };
    },
    async bumpGeneration(refs) {
      await inParallel(refs, 8, (ref) => patchGrantSpec(admin, ref.namespace, ref.name, { aws: { roleArn: grantSpec().aws.roleArn, sessionDuration: "2h" } }));
    },
  };
}

function statusIs(grant: Grant, expected: ExpectedStatus): boolean {
  const status = grant.status;
  const ready = readyCondition(grant);
  const generation = grant.metadata.generation;
  return (
    status?.observedGeneration === generation &&
    ready?.status === expected.ready &&
    ready.reason === expected.reason &&
    ready.observedGeneration === generation &&
    status?.injectedPods === expected.injectedPods &&
    status?.stalePods === expected.stalePods &&
    status?.missedPods === expected.missedPods &&
    (status?.revokedPods ?? 0) === (expected.revokedPods ?? 0)
  );
}

export interface ConvergenceWatch {
  /** performance.now() of each sample and the converged count then (undefined: the list failed). */
  readonly samples: Array<{ at: number; converged: number | undefined }>;
  /** Resolves at the first sample where every grant has converged; rejects after timeoutMs. */
  readonly done: Promise<number>;
  stop(): void;
}

/** Samples convergence every intervalMs until every grant has converged (API errors count as a sample with no answer). */
export function watchConvergence(
  fleet: GrantFleet,
  expected: (grant: GrantRef) => ExpectedStatus,
  options: { intervalMs?: number; timeoutMs?: number } = {},
): ConvergenceWatch {
  const samples: ConvergenceWatch["samples"] = [];
  let stopped = false;
  const deadline = performance.now() + (options.timeoutMs ?? 180_000);
  const done = (async () => {
    while (!stopped && performance.now() < deadline) {
      const at = performance.now();
      try {
        const { converged, total } = await fleet.converged(expected);
        samples.push({ at, converged });
        if (converged === fleet.grants.length && total === fleet.grants.length) return at;
      } catch {
        samples.push({ at, converged: undefined });
      }
      await sleep(options.intervalMs ?? 100);
    }
    throw new Error(`grants had not converged after ${options.timeoutMs ?? 180_000} ms (last sample ${JSON.stringify(samples.at(-1))})`);
  })();
  done.catch(() => undefined); // observed by the caller
  return { samples, done, stop: () => void (stopped = true) };
}
