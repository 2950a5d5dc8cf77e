// Pod creations through the real API server, as a workload controller sends
// them: a fixed number of requests in flight over keep-alive HTTPS, each
// outcome recorded with its HTTP code and the API server's message, and
// optionally the ReplicaSet controller's answer to a failed create: try
// again after a per-item exponential backoff (client-go's default controller
// rate limiter: 5 ms doubling).
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import type { V1Pod } from "@kubernetes/client-node";
import type { ClusterInfo } from "../../test/harness/cluster.js";

export interface Creation {
  readonly index: number;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly status: number;
  /** The API server's message for a refused create; the transport error for no answer. */
  readonly message?: string;
  readonly injected?: boolean;
}

export interface BurstOptions {
  readonly namespace: string;
  readonly count: number;
  readonly concurrency: number;
  /** Pods created per second at most (a token bucket); default unpaced. */
  readonly ratePerSecond?: number;
  readonly podFor: (index: number, attempt: number) => V1Pod;
  /** Called after each creation settles, e.g. to trigger a fault at the n-th pod. */
  readonly onSettled?: (creation: Creation, settled: number) => void;
}

export interface PodClient {
  create(namespace: string, pod: V1Pod, index: number): Promise<Creation>;
  close(): void;
}

export function podClient(cluster: ClusterInfo, maxSockets: number): PodClient {
  const agent = new Agent({ keepAlive: true, maxSockets, ca: readFileSync(cluster.caFile) });
  return {
    create: (namespace, pod, index) => createPod(cluster, agent, namespace, pod, index),
    close: () => agent.destroy(),
  };
}

function createPod(cluster: ClusterInfo, agent: Agent, namespace: string, pod: V1Pod, index: number): Promise<Creation> {
  const body = JSON.stringify({ apiVersion: "v1", kind: "Pod", ...pod });
  const url = new URL(`${cluster.server}/api/v1/namespaces/${namespace}/pods`);
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        timeout: 30_000,
        headers: { authorization: `Bearer ${cluster.adminToken}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          const endedAt = performance.now();
          try {
            const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as V1Pod & { message?: string };
            if (status < 300) {
              const injected = (parsed.spec?.initContainers ?? []).some((container) => container.name === "ddcred-agent");
              resolve({ index, startedAt, endedAt, status, injected });
            } else {
              resolve({ index, startedAt, endedAt, status, message: parsed.message ?? "" });
            }
          } catch {
            resolve({ index, startedAt, endedAt, status, message: "unparseable answer" });
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("client timeout")));
    req.on("error", (error) => resolve({ index, startedAt, endedAt: performance.now(), status: 0, message: error.message }));
    req.end(body);
  });
}

/** Creates `count` pods with `concurrency` in flight; returns every outcome, in index order. */
export async function podBurst(client: PodClient, options: BurstOptions): Promise<Creation[]> {
  const results: Creation[] = [];
  let next = 0;
  const interval = options.ratePerSecond ? 1000 / options.ratePerSecond : 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < options.count) {
        const index = next++;
        const due = started + index * interval;
        if (due > performance.now()) await sleep(due - performance.now());
        const creation = await client.create(options.namespace, options.podFor(index, 0), index);
        results.push(creation);
        options.onSettled?.(creation, results.length);
      }
    }),
  );
  return results.sort((a, b) => a.index - b.index);
}

export interface RetryOutcome {
  readonly index: number;
  /** Attempts after the first failure, up to and including the one that succeeded. */
  readonly retries: number;
  readonly created?: Creation;
}

/**
 * Re-creates each failed pod as a ReplicaSet controller would: the sync is
 * requeued with per-item exponential backoff (5 ms, 10 ms, ...) and creates
 * the missing pod again, under a new name.
 */
export async function retryLikeReplicaSet(
  client: PodClient,
  namespace: string,
  failed: readonly Creation[],
  podFor: (index: number, attempt: number) => V1Pod,
  maxRetries = 12,
): Promise<RetryOutcome[]> {
  return Promise.all(
    failed.map(async ({ index }) => {
      for (let attempt = 1; attempt <= maxRetries; attempt += 1) {
        await sleep(5 * 2 ** (attempt - 1));
        const creation = await client.create(namespace, podFor(index, attempt), index);
        if (creation.status < 300) return { index, retries: attempt, created: creation };
      }
      return { index, retries: maxRetries };
    }),
  );
}

/** The webhook call's failure without addresses and ports, so alike failures group, e.g. "EOF". */
export function failureKind(creation: Creation): string {
  const message = creation.message ?? "";
  const cause = /failed to call webhook: (?:Post "[^"]*": )?(.*)$/.exec(message)?.[1] ?? message;
  return `${creation.status} ${cause.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, "<addr>")}`.slice(0, 140);
}
