// Vitest global setup: one real control plane for the whole run, shared by
// every test file (each works in namespaces of its own). Tests that restart
// or break the API server start a cluster of their own instead.
import { execFileSync } from "node:child_process";
import type { TestProject } from "vitest/node";
import { installCrd } from "./kube.js";
import { startCluster, adminKubeConfig, type Cluster, type ClusterInfo } from "./cluster.js";

declare module "vitest" {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

let cluster: Cluster | undefined;

export async function setup(project: TestProject): Promise<void> {
  // The bundles the tests run as processes (operator, agent, token service).
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
  cluster = await startCluster();
  await installCrd(adminKubeConfig(cluster));
  const { server, caFile, adminToken, adminKubeconfig, dir } = cluster;
  project.provide("cluster", { server, caFile, adminToken, adminKubeconfig, dir });
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}
