// Who may write grants and policies, with the chart's own RBAC applied to a
// real API server: namespace admins (bound to the chart's grant-editor role)
// manage grants in their namespace only and never policies; a policy admin
// writes policies; the operator's ServiceAccount, were its token stolen,
// cannot write either, read other Secrets or touch pods, and with
// the chart's webhook guard (a ValidatingAdmissionPolicy) can change only the caBundle of its
// webhook configuration. The test API server has no controller-manager, so
// ClusterRole aggregation does not run: people are bound to the rendered
// roles directly, and the aggregation labels are checked on the rendered
// objects. A control plane of its own, because policies are cluster-wide and
// would change what other test files' operators do.
import {
  AdmissionregistrationV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type KubeConfig,
} from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminKubeConfig, serviceAccountKubeconfig, startCluster, type Cluster } from "../harness/cluster.js";
import {
  createGrant,
  createNamespace,
  deleteGrant,
  eventually,
  grantSpec,
  installCrd,
  patchGrantSpec,
  rejection,
  simplePod,
} from "../harness/kube.js";
import { apply, Discovery } from "../chart/api.js";
import { findObject, helmTemplate, type KubeObject } from "../chart/helm.js";
import { resolveOperatorEnv } from "../chart/operator-env.js";
import { startOperator, type OperatorProcess } from "../harness/operator.js";
import { freePort } from "../harness/process.js";
import { tlsSecretFiles, webhookCaBundles } from "../harness/webhook.js";
import { API_GROUP, API_VERSION } from "../../src/shared/names.js";
import { GRANT_PLURAL } from "../../src/shared/grant.js";
import { POLICY_PLURAL } from "../../src/shared/policy.js";

const RELEASE = "sec";
const OPERATOR_NAMESPACE = "ddcred-system";
const FULLNAME = `${RELEASE}-ddcred-operator`;
const APPLIED_KINDS = new Set(["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "MutatingWebhookConfiguration"]);
const AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-";

let cluster: Cluster;
let admin: KubeConfig;
let rendered: KubeObject[];
let discovery: Discovery;
let operator: OperatorProcess | undefined;
let teamA: string;
let teamB: string;

const policyBody = (name: string, roles = ["arn:aws:iam::123456789012:role/team-a/*"]) => ({
  apiVersion: `${API_GROUP}/${API_VERSION}`,
  kind: "DatadogCredentialPolicy",
  metadata: { name },
  spec: { namespaceSelector: { matchLabels: { team: "a" } }, allowedRoleArns: roles },
});

/** A person, as a ServiceAccount token in the `people` namespace, bound as given. */
async function person(name: string, binding: { role: string; namespace?: string }): Promise<KubeConfig> {
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccount({ namespace: "people", body: { metadata: { name } } });
  const subjects = [{ kind: "ServiceAccount", name, namespace: "people" }];
  const roleRef = { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: binding.role };
  if (binding.namespace) {
    await rbac.createNamespacedRoleBinding({ namespace: binding.namespace, body: { metadata: { name }, roleRef, subjects } });
  } else {
    await rbac.createClusterRoleBinding({ body: { metadata: { name }, roleRef, subjects } });
  }
  return (await serviceAccountKubeconfig(cluster, "people", name)).kubeConfig;
}

function renderedRole(suffix: string): KubeObject {
  const role = rendered.find((o) => o.kind === "ClusterRole" && o.metadata.name === `${FULLNAME}${suffix}`);
  if (!role) throw new Error(`the chart renders no ClusterRole ${FULLNAME}${suffix}`);
  return role;
}

beforeAll(async () => {
  cluster = await startCluster();
  admin = adminKubeConfig(cluster);
  await installCrd(admin);
  const core = admin.makeApiClient(CoreV1Api);
  for (const name of [OPERATOR_NAMESPACE, "people"]) await core.createNamespace({ body: { metadata: { name } } });
  rendered = (await helmTemplate(RELEASE, OPERATOR_NAMESPACE)).objects;
  discovery = new Discovery(cluster);
  for (const object of rendered.filter((o) => APPLIED_KINDS.has(o.kind))) await apply(cluster, discovery, object);
  teamA = await createNamespace(admin, { prefix: "team-a" });
  teamB = await createNamespace(admin, { prefix: "team-b" });
});

afterAll(async () => {
  await operator?.stop();
  await cluster?.stop();
});

describe("the chart's roles for people", () => {
  it("aggregates grant editing into admin and edit, grant reading into view, and policy writing into no default role", () => {
    expect(renderedRole("-grant-editor").metadata.labels).toMatchObject({ [`${AGGREGATE}admin`]: "true", [`${AGGREGATE}edit`]: "true" });
    expect(renderedRole("-grant-editor").metadata.labels).not.toHaveProperty(`${AGGREGATE}view`);
    expect(renderedRole("-grant-viewer").metadata.labels).toMatchObject({ [`${AGGREGATE}view`]: "true" });
    expect(Object.keys(renderedRole("-policy-admin").metadata.labels ?? {}).filter((k) => k.startsWith(AGGREGATE))).toEqual([]);
    // No role the chart aggregates anywhere mentions policies.
    const aggregated = rendered.filter((o) => o.kind === "ClusterRole" && Object.keys(o.metadata.labels ?? {}).some((k) => k.startsWith(AGGREGATE)));
    expect(aggregated.length).toBe(2);
    expect(JSON.stringify(aggregated.map((o) => o.rules))).not.toContain(POLICY_PLURAL);
  });

  describe("a namespace admin bound to grant-editor in their namespace", () => {
    let alice: KubeConfig;

    beforeAll(async () => {
      alice = await person("alice", { role: `${FULLNAME}-grant-editor`, namespace: teamA });
    });

    it("creates, changes and deletes grants there", async () => {
      await createGrant(alice, teamA, "mine", grantSpec());
      const changed = await patchGrantSpec(alice, teamA, "mine", { podSelector: { matchLabels: { app: "other" } } });
      expect(changed.spec.podSelector).toEqual({ matchLabels: { app: "other" } });
      await deleteGrant(alice, teamA, "mine");
    });

    it("cannot create a grant in another namespace", async () => {
      expect(await rejection(() => createGrant(alice, teamB, "theirs", grantSpec()))).toMatch(/forbidden/);
    });

    it("cannot write a grant's status, which people read as the operator's word", async () => {
      await createGrant(admin, teamA, "status-target", grantSpec());
      const custom = alice.makeApiClient(CustomObjectsApi);
      const forged = { status: { injectedPods: 0, conditions: [{ type: "Ready", status: "True", reason: "Valid", message: "forged", lastTransitionTime: "2026-01-01T00:00:00Z" }] } };
      expect(
        await rejection(() =>
          custom.patchNamespacedCustomObjectStatus(
            { group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL, namespace: teamA, name: "status-target", body: forged },
            setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
          ),
        ),
      ).toMatch(/forbidden/);
    });

    it("cannot create, change or delete a DatadogCredentialPolicy", async () => {
      const custom = alice.makeApiClient(CustomObjectsApi);
      const ids = { group: API_GROUP, version: API_VERSION, plural: POLICY_PLURAL };
      await admin.makeApiClient(CustomObjectsApi).createClusterCustomObject({ ...ids, body: policyBody("platform") });
      expect(await rejection(() => custom.createClusterCustomObject({ ...ids, body: policyBody("mine", ["arn:aws:iam::*:role/*"]) }))).toMatch(/forbidden/);
      expect(
        await rejection(() =>
          custom.patchClusterCustomObject(
            { ...ids, name: "platform", body: { spec: { allowedRoleArns: ["arn:aws:iam::*:role/*"] } } },
            setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
          ),
        ),
      ).toMatch(/forbidden/);
      expect(await rejection(() => custom.getClusterCustomObject({ ...ids, name: "platform" }))).toMatch(/forbidden/);
      expect(await rejection(() => custom.deleteClusterCustomObject({ ...ids, name: "platform" }))).toMatch(/forbidden/);
    });
  });

  it("lets a grant viewer read grants but not write them", async () => {
    const victor = await person("victor", { role: `${FULLNAME}-grant-viewer`, namespace: teamA });
    await createGrant(admin, teamA, "visible", grantSpec());
    const custom = victor.makeApiClient(CustomObjectsApi);
    const list = (await custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL, namespace: teamA })) as {
      items: unknown[];
    };
    expect(list.items.length).toBeGreaterThan(0);
    expect(await rejection(() => createGrant(victor, teamA, "nope", grantSpec()))).toMatch(/forbidden/);
  });

  it("lets a policy admin create, change and delete policies", async () => {
    const pat = await person("pat", { role: `${FULLNAME}-policy-admin` });
    const custom = pat.makeApiClient(CustomObjectsApi);
    const ids = { group: API_GROUP, version: API_VERSION, plural: POLICY_PLURAL };
    await custom.createClusterCustomObject({ ...ids, body: policyBody("by-pat") });
    const changed = (await custom.patchClusterCustomObject(
      { ...ids, name: "by-pat", body: { spec: { allowedSites: ["datadoghq.eu"] } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    )) as { spec: { allowedSites: string[] } };
    expect(changed.spec.allowedSites).toEqual(["datadoghq.eu"]);
    await custom.deleteClusterCustomObject({ ...ids, name: "by-pat" });
  });
});

describe("the operator's ServiceAccount, were its token stolen", () => {
  let thief: KubeConfig;

  beforeAll(async () => {
    thief = (await serviceAccountKubeconfig(cluster, OPERATOR_NAMESPACE, FULLNAME)).kubeConfig;
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({ namespace: teamA, body: { metadata: { name: "app-secret" }, stringData: { password: "x" } } });
    await core.createNamespacedSecret({ namespace: OPERATOR_NAMESPACE, body: { metadata: { name: "other-secret" }, stringData: { password: "x" } } });
    await createGrant(admin, teamB, "existing", grantSpec());
  });

  it("still does what the operator needs: reads grants everywhere (so the refusals below are RBAC's)", async () => {
    const custom = thief.makeApiClient(CustomObjectsApi);
    const grants = (await custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL })) as { items: unknown[] };
    expect(grants.items.length).toBeGreaterThan(0);
  });

  it("cannot write grant specs or policies", async () => {
    const custom = thief.makeApiClient(CustomObjectsApi);
    expect(await rejection(() => createGrant(thief, teamB, "planted", grantSpec()))).toMatch(/forbidden/);
    expect(await rejection(() => patchGrantSpec(thief, teamB, "existing", { podSelector: {} }))).toMatch(/forbidden/);
    expect(
      await rejection(() => custom.createClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: POLICY_PLURAL, body: policyBody("planted") })),
    ).toMatch(/forbidden/);
  });

  it("cannot read any Secret but its own webhook TLS Secret, here or elsewhere", async () => {
    const core = thief.makeApiClient(CoreV1Api);
    expect(await rejection(() => core.readNamespacedSecret({ namespace: teamA, name: "app-secret" }))).toMatch(/forbidden/);
    expect(await rejection(() => core.readNamespacedSecret({ namespace: OPERATOR_NAMESPACE, name: "other-secret" }))).toMatch(/forbidden/);
    expect(await rejection(() => core.listNamespacedSecret({ namespace: OPERATOR_NAMESPACE }))).toMatch(/forbidden/);
    expect(await rejection(() => core.listSecretForAllNamespaces({}))).toMatch(/forbidden/);
  });

  it("cannot create, change or delete pods, nor mint tokens for other ServiceAccounts", async () => {
    const core = thief.makeApiClient(CoreV1Api);
    await admin.makeApiClient(CoreV1Api).createNamespacedPod({ namespace: teamA, body: simplePod("victim", { app: "demo" }) });
    expect(await rejection(() => core.createNamespacedPod({ namespace: teamA, body: simplePod("planted", {}) }))).toMatch(/forbidden/);
    expect(await rejection(() => core.deleteNamespacedPod({ namespace: teamA, name: "victim" }))).toMatch(/forbidden/);
    expect(
      await rejection(() => core.patchNamespacedPod({ namespace: teamA, name: "victim", body: [{ op: "add", path: "/metadata/labels/x", value: "y" }] })),
    ).toMatch(/forbidden/);
    expect(
      await rejection(() => core.createNamespacedServiceAccountToken({ namespace: "people", name: "default", body: { spec: { audiences: ["x"] } } })),
    ).toMatch(/forbidden/);
  });

  it("reads RayClusters and Jobs, for grants that name Ray workloads, and cannot write either nor touch RayJobs or RayServices", async () => {
    const authorization = thief.makeApiClient(AuthorizationV1Api);
    const allowed = async (group: string, resource: string, verb: string) =>
      (await authorization.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { group, resource, verb, namespace: teamA } } } })).status?.allowed ?? false;
    for (const verb of ["get", "list", "watch"]) {
      expect(await allowed("ray.io", "rayclusters", verb)).toBe(true);
      expect(await allowed("batch", "jobs", verb)).toBe(true);
    }
    for (const verb of ["create", "update", "patch", "delete"]) {
      expect(await allowed("ray.io", "rayclusters", verb)).toBe(false);
      expect(await allowed("batch", "jobs", verb)).toBe(false);
    }
    for (const resource of ["rayjobs", "rayservices"]) expect(await allowed("ray.io", resource, "get")).toBe(false);
    const batch = thief.makeApiClient(BatchV1Api);
    await expect(batch.listJobForAllNamespaces({})).resolves.toMatchObject({ items: expect.any(Array) });
    const job = { metadata: { name: "planted" }, spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "x", image: "x" }] } } } };
    expect(await rejection(() => batch.createNamespacedJob({ namespace: teamA, body: job }))).toMatch(/forbidden/);
  });

  it("cannot grant itself more: no RBAC writes, no other webhook configurations", async () => {
    const rbac = thief.makeApiClient(RbacAuthorizationV1Api);
    const roleRef = { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" };
    const subjects = [{ kind: "ServiceAccount", name: FULLNAME, namespace: OPERATOR_NAMESPACE }];
    expect(await rejection(() => rbac.createClusterRoleBinding({ body: { metadata: { name: "escalate" }, roleRef, subjects } }))).toMatch(/forbidden/);
    const webhooks = thief.makeApiClient(AdmissionregistrationV1Api);
    expect(
      await rejection(() =>
        webhooks.createMutatingWebhookConfiguration({ body: { metadata: { name: "planted" }, webhooks: [] } }),
      ),
    ).toMatch(/forbidden/);
  });

  it("can rewrite its own MutatingWebhookConfiguration beyond the caBundle when nothing but RBAC guards it", async () => {
    // RBAC cannot limit a patch to one field: whoever holds this token can
    // widen the webhook's namespaceSelector or point it elsewhere.
    const webhooks = thief.makeApiClient(AdmissionregistrationV1Api);
    const patched = await webhooks.patchMutatingWebhookConfiguration({
      name: FULLNAME,
      body: [{ op: "replace", path: "/webhooks/0/namespaceSelector", value: {} }],
    });
    expect(patched.webhooks?.[0]?.namespaceSelector).toEqual({});
  });

  it("can change only the caBundle once the chart's webhook guard is applied", async () => {
    const guard = rendered.filter((o) => o.kind === "ValidatingAdmissionPolicy" || o.kind === "ValidatingAdmissionPolicyBinding");
    expect(guard.map((o) => o.kind).sort()).toEqual(["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]);
    for (const object of guard) await apply(cluster, discovery, object);
    const webhooks = thief.makeApiClient(AdmissionregistrationV1Api);
    let attempt = 0;
    const widen = () =>
      webhooks.patchMutatingWebhookConfiguration({
        name: FULLNAME,
        body: [{ op: "replace", path: "/webhooks/0/namespaceSelector", value: { matchLabels: { attempt: String(attempt++) } } }],
      });
    // The API server enforces a new policy once its own informer holds it; each attempt differs, so none is a no-op.
    const refused = await eventually("the guard to be enforced", () => rejection(widen));
    expect(refused).toContain("the ddcred operator may change only the caBundle of its webhooks");
    const redirect = [{ op: "replace", path: "/webhooks/0/clientConfig", value: { url: "https://attacker.example/mutate" } }];
    expect(await rejection(() => webhooks.patchMutatingWebhookConfiguration({ name: FULLNAME, body: redirect }))).toContain("may change only the caBundle");

    const caBundle = Buffer.from(readFileSync(cluster.caFile)).toString("base64");
    const patched = await webhooks.patchMutatingWebhookConfiguration({
      name: FULLNAME,
      body: [{ op: "add", path: "/webhooks/0/clientConfig/caBundle", value: caBundle }],
    });
    expect(patched.webhooks?.[0]?.clientConfig.caBundle).toBe(caBundle);
    // People (here the cluster admin) are not bound by it.
    const byAdmin = await admin.makeApiClient(AdmissionregistrationV1Api).patchMutatingWebhookConfiguration({
      name: FULLNAME,
      body: [{ op: "replace", path: "/webhooks/0/timeoutSeconds", value: 7 }],
    });
    expect(byAdmin.webhooks?.[0]?.timeoutSeconds).toBe(7);
  });

  it("leaves the operator process itself free to register its CA with the guard in place", async () => {
    const deployment = findObject(rendered, "Deployment");
    const { DDCRED_HEALTH_PORT: _pickedByTheHarness, ...env } = resolveOperatorEnv(deployment, { namespace: OPERATOR_NAMESPACE, podName: `${RELEASE}-local` });
    const { path } = await serviceAccountKubeconfig(cluster, OPERATOR_NAMESPACE, FULLNAME);
    operator = await startOperator({
      kubeconfig: path,
      namespace: OPERATOR_NAMESPACE,
      env: { ...env, DDCRED_WEBHOOK_ADDRESS: "127.0.0.1", DDCRED_WEBHOOK_PORT: String(await freePort()), DDCRED_SHUTDOWN_DELAY_SECONDS: "0" },
    });
    const configurationName = env.DDCRED_WEBHOOK_CONFIGURATION_NAME!;
    await eventually("the operator's CA in its webhook configuration", async () => {
      const [{ bundles }, files] = await Promise.all([
        webhookCaBundles(admin, configurationName),
        tlsSecretFiles(admin, OPERATOR_NAMESPACE, env.DDCRED_TLS_SECRET_NAME!),
      ]);
      return bundles.length > 0 && bundles.every((bundle) => bundle === files["ca.crt"]);
    });
    expect(operator.process.log()).not.toMatch(/may change only the caBundle/);
  });

  it("runs ready where KubeRay's CRDs are not installed, saying in its log that grants naming Ray workloads select no pod", async () => {
    expect(operator, "started by the test above").toBeDefined();
    await eventually("the operator to log that KubeRay's CRDs are missing", async () => /KubeRay's CRDs are not installed/.test(operator!.process.log()));
    expect(operator!.process.log()).toMatch(/grants that name Ray workloads select no pod until they are/);
    expect((await fetch(`${operator!.healthUrl}/readyz`)).ok).toBe(true);
  });
});
