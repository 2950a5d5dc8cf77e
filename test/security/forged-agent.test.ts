// What a pod author can write on a pod is no proof of injection: an init
// container named ddcred-agent and the ddcred.io/ markers. The operator
// process serves the webhook to the real API server over TLS, its controller
// counts the pods; a forged agent is refused at admission, markers added after
// admission are never counted as an injection, and a real copy of an injected
// pod (what `kubectl get pod -o yaml | kubectl create -f -` does) converges.
// Then the admission budget on the real operator: a 3 MiB review built to be
// expensive, sent straight to its webhook port, while pods keep being created
// and injected through the API server.
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ClusterInfo } from "../harness/cluster.js";
import { createGrant, createPod, eventually, grantSpec, simplePod, waitForGrant } from "../harness/kube.js";
import { createPodRaw, tlsSecretFiles } from "../harness/webhook.js";
import { hasAgent, startWebhookOperator, TLS_SECRET_NAME, waitUntilInjecting, type WebhookOperator } from "../harness/webhook-operator.js";
import { admissionReview, hostileReviewOfSize } from "../webhook/support/hostile-pods.js";
import { AGENT_ENV } from "../../src/shared/agent-config.js";
import { AGENT_CONTAINER_NAME, GRANT_GENERATION_ANNOTATION, GRANT_LABEL, INJECTED_ANNOTATION } from "../../src/shared/names.js";
import type { Pod } from "../../src/webhook/pod.js";

let cluster: ClusterInfo;
let setup: WebhookOperator;
let admin: KubeConfig;
let core: CoreV1Api;

beforeAll(async () => {
  cluster = inject("cluster");
  setup = await startWebhookOperator(cluster, {}, "forge");
  admin = setup.admin;
  core = admin.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  keepAlive.destroy();
  await setup?.stop();
});

function forgedAgentPod(name: string, grant: string): V1Pod {
  const pod = simplePod(name, { app: "demo", [GRANT_LABEL]: grant });
  pod.metadata!.annotations = { [INJECTED_ANNOTATION]: grant, [GRANT_GENERATION_ANNOTATION]: "1" };
  pod.spec!.initContainers = [
    {
      name: AGENT_CONTAINER_NAME,
      image: "registry.example/attacker/agent:1",
      restartPolicy: "Always",
      env: [{ name: AGENT_ENV.grantName, value: grant }],
    },
  ];
  return pod;
}

/** What `kubectl get pod -o yaml` keeps when fed back to `kubectl create`: the spec as stored, without identity and status. */
function recreatable(stored: V1Pod, name: string): V1Pod {
  const { nodeName: _node, ...spec } = stored.spec!;
  return {
    metadata: { name, labels: stored.metadata?.labels, annotations: stored.metadata?.annotations },
    spec: spec as V1Pod["spec"],
  };
}

describe("a pod that arrives with an agent or ddcred's markers", () => {
  let ns: string;

  beforeAll(async () => {
    ns = await setup.namespace();
    await createGrant(admin, ns, "demo", grantSpec());
    await waitUntilInjecting(admin, ns, simplePod("probe", { app: "demo" }));
  });

  it("refuses a pod carrying a forged ddcred-agent and the markers, and says what to remove", async () => {
    const created = await createPodRaw(cluster, ns, forgedAgentPod("forged", "demo"));
    expect(created.status).toBe(403);
    expect(created.message).toMatch(/denied the request: ddcred: .*differs from the agent grant demo gives today.*remove the ddcred-agent container/);
    await expect(core.readNamespacedPod({ name: "forged", namespace: ns })).rejects.toThrow();
  });

  it("refuses a forged agent naming a grant that does not exist", async () => {
    const created = await createPodRaw(cluster, ns, forgedAgentPod("forged-nowhere", "no-such-grant"));
    expect(created.status).toBe(403);
    expect(created.message).toMatch(/picks grant no-such-grant, which does not exist/);
  });

  it("admits a copy of an injected pod unchanged, as stored with the API server's defaults, and counts both", async () => {
    await createPod(admin, ns, simplePod("original", { app: "demo" }));
    const original = await core.readNamespacedPod({ name: "original", namespace: ns });
    expect(hasAgent(original)).toBe(true);
    const copy = await createPodRaw(cluster, ns, recreatable(original, "copy"));
    expect(copy.status).toBe(201);
    expect(copy.pod?.spec?.initContainers?.[0]).toEqual(original.spec?.initContainers?.[0]);
    expect(copy.pod?.spec?.containers).toEqual(original.spec?.containers);
    await waitForGrant(admin, ns, "demo", (g) => g.status?.injectedPods === 2 && g.status?.stalePods === 0);
  });

  it("never counts a pod whose author annotated it as injected after admission", async () => {
    // Its own container named ddcred-agent: admitted uninjected, with a warning.
    const own = simplePod("own-agent-name", { app: "demo" });
    own.spec!.initContainers = [{ name: AGENT_CONTAINER_NAME, image: "registry.example/mine:1" }];
    const created = await createPodRaw(cluster, ns, own);
    expect(created.status).toBe(201);
    expect(created.warnings.join("\n")).toMatch(/own container named ddcred-agent/);
    await waitForGrant(admin, ns, "demo", (g) => g.status?.missedPods === 1);

    // Annotations change on UPDATE, which the webhook does not see.
    await core.patchNamespacedPod({
      name: "own-agent-name",
      namespace: ns,
      body: [{ op: "add", path: "/metadata/annotations", value: { [INJECTED_ANNOTATION]: "demo", [GRANT_GENERATION_ANNOTATION]: "1" } }],
    });
    const grant = await waitForGrant(admin, ns, "demo", (g) => g.status?.stalePods === 1);
    expect(grant.status).toMatchObject({ injectedPods: 2, stalePods: 1, missedPods: 0 });
  });
});

interface ReviewReply {
  readonly status: number;
  readonly allowed: boolean;
  readonly patched: boolean;
}

/** Keep-alive, as the API server calls webhooks: no TLS handshake in the per-review cost. */
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

function sendReview(url: URL, ca: string, body: string): Promise<ReviewReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", ca, agent: keepAlive, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { response: { allowed: boolean; patch?: string } };
          resolve({ status: response.statusCode ?? 0, allowed: review.response.allowed, patched: review.response.patch !== undefined });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** CPU seconds the operator process has used, from /proc (clock ticks of 10 ms). */
function operatorCpuSeconds(): number {
  const pid = setup.operator().process.pid();
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe("a 3 MiB pod built to be expensive, on one operator replica", () => {
  it("is reviewed at a few times a KubeRay worker's cost per KiB while pods keep being admitted and injected", async () => {
    const ns = await setup.namespace();
    await createGrant(admin, ns, "orders", grantSpec({ podSelector: { matchLabels: { "app.kubernetes.io/name": "orders-api" } } }));
    await createGrant(admin, ns, "demo", grantSpec());
    await createGrant(admin, ns, "ray-etl", grantSpec({ podSelector: { matchLabels: { "ddcred.example.com/workload": "ray-etl" } } }));
    await waitUntilInjecting(admin, ns, simplePod("probe", { app: "demo" }));
    const configuration = await admin.makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name: setup.configurationName });
    const url = new URL(configuration.webhooks![0]!.clientConfig.url!);
    const ca = (await tlsSecretFiles(admin, setup.operatorNamespace, TLS_SECRET_NAME))["ca.crt"] as string;
    const inNamespace = (review: string) => review.replaceAll('"namespace":"ray-jobs"', `"namespace":"${ns}"`);

    // The cost per KiB of ordinary reviews, on the same process.
    const worker = JSON.parse(readFileSync(join(import.meta.dirname, "../../webhook/samples/kuberay-worker-create.json"), "utf8")) as {
      request: { object: Pod };
    };
    const normal = inNamespace(admissionReview({ ...worker.request.object, metadata: { ...worker.request.object.metadata, namespace: ns } }));
    const normalCount = 300;
    let cpu = operatorCpuSeconds();
    for (let i = 0; i < normalCount; i++) expect((await sendReview(url, ca, normal)).patched).toBe(true);
    const normalPerKiB = (operatorCpuSeconds() - cpu) / ((normal.length * normalCount) / 1024);

    // Hostile reviews back to back, and ordinary pod creations through the API server meanwhile.
    const hostile = inNamespace(hostileReviewOfSize("containers", 3 * 1024 * 1024 - 4 * 1024));
    const hostileCount = 4;
    cpu = operatorCpuSeconds();
    const hostileReplies = (async () => {
      const replies: ReviewReply[] = [];
      for (let i = 0; i < hostileCount; i++) replies.push(await sendReview(url, ca, hostile));
      return replies;
    })();
    const created: V1Pod[] = [];
    for (let i = 0; i < 5; i++) created.push(await createPod(admin, ns, simplePod(`meanwhile-${i}`, { app: "demo" })));
    const replies = await hostileReplies;
    const hostilePerKiB = (operatorCpuSeconds() - cpu) / ((hostile.length * hostileCount) / 1024);

    expect(created.map(hasAgent)).toEqual([true, true, true, true, true]);
    expect(replies).toEqual(Array.from({ length: hostileCount }, () => ({ status: 200, allowed: true, patched: true })));
    // The five ordinary creations meanwhile add a little to the hostile figure, never take from it.
    expect(hostilePerKiB / normalPerKiB).toBeLessThan(4);
    await eventually("the operator to stay ready", async () => (await fetch(`${setup.operator().healthUrl}/readyz`)).ok);
  });
});
