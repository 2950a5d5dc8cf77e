// Helpers for tests on the node cluster: namespaces that the real
// controller-manager fills and empties, pods waited on by what the kubelet
// reports, and the logs the kubelet keeps.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { inject } from "vitest";
import { isNotFound } from "../../../src/shared/kube/client.js";
import { INJECTION_ENABLED, INJECTION_LABEL } from "../../../src/shared/names.js";
import { eventually, uniqueName } from "../kube.js";
import type { NodeClusterInfo } from "./node-cluster.js";
import type { CredentialStackInfo } from "./credential-stack.js";

/**
 * The run's node cluster and the credential stack installed on it, or the
 * reason there is none (the file's tests are then skipped, saying why).
 */
export function nodeCluster():
  | { node: NodeClusterInfo; stack: CredentialStackInfo; skip: undefined }
  | { node: undefined; stack: undefined; skip: string } {
  const node = inject("node");
  const stack = inject("nodeStack");
  if ("unavailable" in node) return { node: undefined, stack: undefined, skip: node.unavailable };
  if (!stack) return { node: undefined, stack: undefined, skip: "the node's credential stack did not start" };
  return { node, stack, skip: undefined };
}

/** A namespace, once kube-controller-manager has given it its `default` ServiceAccount. */
export async function createNodeNamespace(admin: KubeConfig, options: { prefix: string; injection?: boolean; labels?: Record<string, string> }): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  const name = uniqueName(options.prefix);
  const labels = { ...options.labels, ...(options.injection ? { [INJECTION_LABEL]: INJECTION_ENABLED } : {}) };
  await core.createNamespace({ body: { metadata: { name, labels } } });
  await eventually(`the default ServiceAccount in ${name}`, async () => {
    await core.readNamespacedServiceAccount({ name: "default", namespace: name });
    return true;
  });
  return name;
}

/** Starts deleting a namespace; the controller-manager and the kubelet finish it. */
export async function deleteNodeNamespace(admin: KubeConfig, name: string): Promise<void> {
  await admin
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name })
    .catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
}

/** Waits until `check(pod)` holds; a pod that can no longer get there fails fast with its status. */
export async function waitForPod(admin: KubeConfig, namespace: string, name: string, what: string, check: (pod: V1Pod) => boolean, timeoutMs = 120_000): Promise<V1Pod> {
  const core = admin.makeApiClient(CoreV1Api);
  let last: V1Pod | undefined;
  try {
    return await eventually(
      `pod ${namespace}/${name} ${what}`,
      async () => {
        last = await core.readNamespacedPod({ name, namespace });
        if (check(last)) return last;
        const waiting = [...(last.status?.initContainerStatuses ?? []), ...(last.status?.containerStatuses ?? [])]
          .map((s) => s.state?.waiting?.reason)
          .find((reason) => reason && ["ErrImageNeverPull", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "InvalidImageName"].includes(reason));
        if (waiting) throw new Error(`pod ${namespace}/${name} cannot start: ${waiting}`);
        return undefined;
      },
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${String(error)}\nlast status: ${JSON.stringify(last?.status ?? null)}${last ? await containerLogTails(admin, last) : ""}`);
  }
}

/** The end of each container's log, for a failure message that says what went wrong inside the pod. */
async function containerLogTails(admin: KubeConfig, pod: V1Pod): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  const names = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
  const tails: string[] = [];
  for (const container of names) {
    const log = await core
      .readNamespacedPodLog({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, container, tailLines: 20 })
      .catch((error: unknown) => `(no log: ${String(error).slice(0, 200)})`);
    tails.push(`--- ${container} ---\n${log}`);
  }
  return `\n${tails.join("\n")}`;
}

export const isRunningAndReady = (pod: V1Pod): boolean =>
  pod.status?.phase === "Running" && (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

export const hasFinished = (pod: V1Pod): boolean => pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";

/** What a container printed (the kubelet's log, as `kubectl logs -c` shows it). */
export async function podLog(admin: KubeConfig, namespace: string, name: string, container: string): Promise<string> {
  return await admin.makeApiClient(CoreV1Api).readNamespacedPodLog({ name, namespace, container });
}

/** JSON lines a container printed, parsed; other lines are skipped. */
export async function podJsonLines(admin: KubeConfig, namespace: string, name: string, container: string): Promise<Record<string, unknown>[]> {
  return (await podLog(admin, namespace, name, container))
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
