// Vitest global setup: one real control plane for the whole run, shared by
// every test file (each works in namespaces of its own), and one real node
// cluster (kubelet, containerd, controllers; test/harness/node) for the files
// about pods that run. Tests that restart or break the API server start a
// cluster of their own instead.
import { execFileSync } from "node:child_process";
import type { TestProject } from "vitest/node";
import { installCrd } from "./kube.js";
import { startCluster, adminKubeConfig, type Cluster, type ClusterInfo } from "./cluster.js";
import { SHARED_STACK_OPTIONS, startCredentialStack, type CredentialStack, type CredentialStackInfo } from "./node/credential-stack.js";
import { nodeClusterWanted, startNodeCluster, type NodeCluster, type NodeClusterInfo } from "./node/node-cluster.js";

declare module "vitest" {
  export interface ProvidedContext {
    cluster: ClusterInfo;
    /** The node cluster, or why this run has none (DDCRED_NODE=off). */
    node: NodeClusterInfo | { readonly unavailable: string };
    /** On the node: the chart installed once for the run, and the STS and Datadog stand-ins its agents use. */
    nodeStack: CredentialStackInfo | undefined;
  }
}

let cluster: Cluster | undefined;
let node: NodeCluster | undefined;
let stack: CredentialStack | undefined;

export async function setup(project: TestProject): Promise<void> {
  // The bundles the tests run as processes (operator, agent, token service).
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
  const wanted = nodeClusterWanted();
  // Whichever of the two started is kept for teardown even when the other
  // failed: a node that started must be stopped, or the host stays changed.
  const [startedCluster, startedNode] = await Promise.allSettled([startCluster(), wanted === true ? startNodeCluster() : undefined]);
  if (startedCluster.status === "fulfilled") cluster = startedCluster.value;
  if (startedNode.status === "fulfilled") node = startedNode.value;
  if (startedCluster.status === "rejected") throw startedCluster.reason;
  if (startedNode.status === "rejected") throw startedNode.reason;
  await installCrd(adminKubeConfig(startedCluster.value));
  const { server, caFile, adminToken, adminKubeconfig, dir } = startedCluster.value;
  project.provide("cluster", { server, caFile, adminToken, adminKubeconfig, dir });
  if (node) {
    const { stop: _stop, ...info } = node;
    project.provide("node", info);
    stack = await startCredentialStack(node, SHARED_STACK_OPTIONS);
    project.provide("nodeStack", stack.info());
  } else {
    project.provide("nodeStack", undefined);
    project.provide("node", { unavailable: wanted === true ? "not started" : wanted });
  }
}

export async function teardown(): Promise<void> {
  await stack?.stop().catch((error: unknown) => console.error(`stopping the node's credential stack: ${String(error)}`));
  const results = await Promise.allSettled([node?.stop(), cluster?.stop()]);
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
}
