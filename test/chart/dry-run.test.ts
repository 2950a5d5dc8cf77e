// Everything the chart renders, sent to the real API server as a server-side
// dry run: defaulting, schema validation with unknown fields as errors, and
// admission (Pod Security included), with nothing stored.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ClusterInfo } from "../harness/cluster.js";
import { adminKubeConfig } from "../harness/cluster.js";
import { createNamespace, deleteNamespace } from "../harness/kube.js";
import { apiRequest, apply, Discovery, dryRunApply } from "./api.js";
import { findObject, helmTemplate, parseObjects, type KubeObject } from "./helm.js";
import { SCENARIOS } from "./scenarios.js";

const STAND_IN_CRDS = parseObjects(readFileSync(new URL("stand-in-crds.yaml", import.meta.url), "utf8"));

let cluster: ClusterInfo;
let discovery: Discovery;
let namespace: string;

beforeAll(async () => {
  cluster = inject("cluster");
  discovery = new Discovery(cluster);
  // Enforces the restricted Pod Security Standard, which the operator pods must meet.
  namespace = await createNamespace(adminKubeConfig(cluster), {
    prefix: "chart-dry-run",
    labels: { "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest" },
  });
  for (const crd of STAND_IN_CRDS) await apply(cluster, discovery, crd);
});

afterAll(async () => {
  if (!cluster) return;
  for (const crd of STAND_IN_CRDS) {
    await apiRequest(cluster, "DELETE", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
  }
  if (namespace) await deleteNamespace(adminKubeConfig(cluster), namespace);
});

/** Each object's dry-run failure, or nothing when the API server accepts them all. */
async function rejections(objects: readonly KubeObject[]): Promise<string[]> {
  const failures: string[] = [];
  for (const object of objects) {
    const response = await dryRunApply(cluster, discovery, object);
    if (response.status >= 300) failures.push(`${object.kind} ${object.metadata.name}: ${response.status} ${response.body?.message ?? JSON.stringify(response.body)}`);
  }
  return failures;
}

describe("a server-side dry run", () => {
  it.each(SCENARIOS)("accepts every object rendered from $name", async ({ values }) => {
    const { objects } = await helmTemplate("dry", namespace, values);
    // `helm test` creates its pod later, in a workload namespace of the user's
    // choosing: test/chart/helm-test-hook.test.ts sends it to the API server.
    const installed = objects.filter((object) => object.metadata.annotations?.["helm.sh/hook"] !== "test");
    expect(installed.length).toBeGreaterThan(0);
    expect(await rejections(installed)).toEqual([]);
  });

  it("rejects an object the API server does not accept, so the checks above can fail", async () => {
    const { objects } = await helmTemplate("dry", namespace);
    const deployment = findObject(objects, "Deployment") as any;
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0].imagePullPolicy = "Sometimes";
    broken.spec.template.spec.containers[0].restartPolicyy = "Always";
    const [failure] = await rejections([broken]);
    expect(failure).toMatch(/restartPolicyy|Sometimes/);
  });
});

describe("the operator pod", () => {
  it.each(SCENARIOS.filter((s) => ["the default values", "every option set"].includes(s.name)))(
    "is admitted in a namespace enforcing the restricted Pod Security Standard ($name)",
    async ({ values }) => {
      const { objects } = await helmTemplate("dry", namespace, values);
      const template = (findObject(objects, "Deployment") as any).spec.template;
      const account = template.spec.serviceAccountName as string;
      // The ServiceAccount admission plugin wants the pod's account to exist.
      await apiRequest(cluster, "POST", `/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name: account } });
      const pod = { apiVersion: "v1", kind: "Pod", metadata: { ...template.metadata, name: "operator-pod", namespace }, spec: template.spec };
      const response = await apiRequest(cluster, "POST", `/api/v1/namespaces/${namespace}/pods?dryRun=All&fieldValidation=Strict`, pod);
      expect(response.status, JSON.stringify(response.body?.message)).toBe(201);
      expect(response.body.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    },
  );

  it("is refused in that namespace when it asks for more than restricted allows, so the check above can fail", async () => {
    const { objects } = await helmTemplate("dry", namespace, { securityContext: { allowPrivilegeEscalation: true } });
    const template = (findObject(objects, "Deployment") as any).spec.template;
    await apiRequest(cluster, "POST", `/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name: template.spec.serviceAccountName } });
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "operator-pod", namespace }, spec: template.spec };
    const response = await apiRequest(cluster, "POST", `/api/v1/namespaces/${namespace}/pods?dryRun=All`, pod);
    expect(response.status).toBe(403);
    expect(response.body.message).toMatch(/violates PodSecurity "restricted:latest": allowPrivilegeEscalation/);
  });
});
