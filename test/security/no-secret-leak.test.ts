// The whole chain, then a search for the actual secret values everywhere
// they must not be: the operator's webhook injects a pod, the agent runs
// with that pod's env against moto and the Datadog token service (tokens
// living 2 s, the org's intake key rotated every second and exchanged again
// as often, AWS sessions 4 s, so it refreshes several times), and every generation of every credential it held, the per-pod
// secret and the base identity's secret key are looked for in the pod spec,
// every object the API server holds for the test and operator namespaces and
// cluster-wide, Events, both processes' logs and both processes' metrics.
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ClusterInfo } from "../harness/cluster.js";
import { startCredentialPeers, type CredentialPeers } from "../harness/credential-peers.js";
import { createGrant, createPod, grantSpec, simplePod, waitForGrant } from "../harness/kube.js";
import { AGENT_ENV } from "../../src/shared/agent-config.js";
import { AGENT_PATHS } from "../../src/shared/names.js";
import { startAgentForPod, type PodAgent } from "./support/pod-agent.js";
import { allObjects, objectText, secretsIn, type SecretValue } from "./support/secret-scan.js";
import { hasAgent, startWebhookOperator, TLS_SECRET_NAME, waitUntilInjecting, type WebhookOperator } from "../harness/webhook-operator.js";

const COLLECT_MS = 6_000;
const TLS_SECRET_KEYS = ["ca.crt", "ca.key", "tls.crt", "tls.key"];

let cluster: ClusterInfo;
let peers: CredentialPeers;
let setup: WebhookOperator;
let admin: KubeConfig;
let namespace: string;
let pod: V1Pod;
let agent: PodAgent;

const held = {
  perPodSecret: new Set<string>(),
  datadogToken: new Set<string>(),
  datadogIntakeKey: new Set<string>(),
  awsSecretAccessKey: new Set<string>(),
  awsSessionToken: new Set<string>(),
};

function secrets(): SecretValue[] {
  const named = Object.entries(held).flatMap(([kind, values]) => [...values].map((value, index) => ({ name: `${kind} #${index + 1}`, value })));
  return [...named, { name: "base identity secret access key", value: peers.moto.baseCredentials.secretAccessKey }];
}

/** What the agent holds right now, through its files and its loopback API (as the app reads them). */
async function collect(withApi: boolean): Promise<void> {
  const secret = agent.readFile("agentToken");
  held.perPodSecret.add(secret);
  held.datadogToken.add(agent.readFile("datadogToken"));
  held.datadogIntakeKey.add(agent.readFile("datadogIntakeKey"));
  const process = JSON.parse(agent.readFile("awsProcessCredentials")) as { SecretAccessKey: string; SessionToken: string };
  held.awsSecretAccessKey.add(process.SecretAccessKey);
  held.awsSessionToken.add(process.SessionToken);
  if (!withApi) return;
  const get = async (path: string) => (await fetch(`${agent.apiUrl}${path}`, { headers: { authorization: secret } })).json();
  const aws = (await get(AGENT_PATHS.awsCredentials)) as { SecretAccessKey: string; Token: string };
  held.awsSecretAccessKey.add(aws.SecretAccessKey);
  held.awsSessionToken.add(aws.Token);
  held.datadogToken.add(((await get(AGENT_PATHS.datadogToken)) as { token: string }).token);
  held.datadogIntakeKey.add(((await get(AGENT_PATHS.datadogIntakeKey)) as { apiKey: string }).apiKey);
}

beforeAll(async () => {
  cluster = inject("cluster");
  peers = await startCredentialPeers({ tokenTtlSeconds: 2, intakeKeyTtlSeconds: 1 });
  setup = await startWebhookOperator(cluster, { DDCRED_AGENT_DATADOG_API_URL: peers.datadog.url });
  admin = setup.admin;
  namespace = await setup.namespace({ serviceAccounts: ["reporter"] });
  const reporterPod = (name: string) => simplePod(name, { app: "reports" }, { serviceAccountName: "reporter" });
  // Created before the grant: the controller reports it missed, so there are Events to search.
  await createPod(admin, namespace, reporterPod("early"));
  await createGrant(
    admin,
    namespace,
    "reports",
    grantSpec({
      podSelector: { matchLabels: { app: "reports" } },
      serviceAccountNames: ["reporter"],
      aws: { roleArn: peers.moto.roleArn("ddcred-test"), exposeToWorkload: true },
      datadog: { orgUuid: peers.orgUuid, apiToken: true, intakeKey: true },
    }),
  );
  await waitUntilInjecting(admin, namespace, reporterPod("probe"));
  pod = await createPod(admin, namespace, reporterPod("app"));
  // The grant's shortest session is 15 minutes; a 4 s one (the agent allows it for test peers) makes AWS refresh here too.
  agent = await startAgentForPod(pod, peers.moto, { [AGENT_ENV.sessionDurationSeconds]: "4", [AGENT_ENV.intakeKeyRefreshSeconds]: "1" });
  const deadline = Date.now() + COLLECT_MS;
  for (let round = 0; Date.now() < deadline; round++) {
    await collect(round % 10 === 0);
    await sleep(40);
  }
  await collect(true);
  await waitForGrant(admin, namespace, "reports", (g) => g.status?.injectedPods === 1 && g.status?.missedPods === 1);
});

afterAll(async () => {
  await agent?.stop();
  await setup?.stop();
  await peers?.stop();
});

describe("secrets and credentials across the whole chain", () => {
  it("were really issued and held, several generations of each (what the searches below look for)", async () => {
    expect(hasAgent(pod)).toBe(true);
    expect(held.perPodSecret.size).toBe(1);
    expect(held.datadogToken.size).toBeGreaterThanOrEqual(3);
    expect(held.datadogIntakeKey.size).toBeGreaterThanOrEqual(3);
    expect(held.awsSessionToken.size).toBeGreaterThanOrEqual(2);
    expect(held.awsSecretAccessKey.size).toBeGreaterThanOrEqual(2);
    const stats = await peers.datadog.stats();
    expect(stats.tokensIssued).toBeGreaterThanOrEqual(held.datadogToken.size);
    // Sanity of the search itself: it finds a value where one is.
    expect(secretsIn(`x${[...held.datadogToken][0]}x`, secrets())).toEqual(["datadogToken #1"]);
  });

  it("are absent from the injected pod's spec, its env values and its annotations", async () => {
    const current = await admin.makeApiClient(CoreV1Api).readNamespacedPod({ namespace, name: "app" });
    const values = [...(current.spec?.initContainers ?? []), ...(current.spec?.containers ?? [])].flatMap((c) => (c.env ?? []).map((e) => e.value ?? ""));
    expect(values.length).toBeGreaterThan(10);
    expect(secretsIn(values.join("\n"), secrets())).toEqual([]);
    expect(secretsIn(JSON.stringify(current), secrets())).toEqual([]);
  });

  it("are absent from every object in the test and operator namespaces and every cluster-scoped object", async () => {
    // A planted copy, base64 at an odd offset, shows the search finds one wherever it is.
    const planted = `x${[...held.datadogToken][1]}`;
    await admin
      .makeApiClient(CoreV1Api)
      .createNamespacedConfigMap({ namespace, body: { metadata: { name: "planted" }, binaryData: { blob: Buffer.from(planted).toString("base64") } } });
    const objects = await allObjects(cluster, [namespace, setup.operatorNamespace]);
    await admin.makeApiClient(CoreV1Api).deleteNamespacedConfigMap({ namespace, name: "planted" });
    expect(objects.some((o) => o.kind === "Pod" && o.metadata?.name === "app")).toBe(true);
    expect(objects.some((o) => o.kind === "DatadogCredentialGrant")).toBe(true);
    const found = objects.flatMap((object) => {
      const names = secretsIn(objectText(object), secrets());
      return names.length > 0 ? [`${object.kind} ${object.metadata?.namespace ?? ""}/${object.metadata?.name}: ${names.join(", ")}`] : [];
    });
    expect(found).toEqual([`ConfigMap ${namespace}/planted: datadogToken #2`]);
  });

  it("leave one Secret in those namespaces: the webhook's TLS Secret, holding only its CA and serving certificate and keys", async () => {
    const objects = await allObjects(cluster, [namespace, setup.operatorNamespace]);
    const stored = objects.filter((o) => o.kind === "Secret");
    expect(stored.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`)).toEqual([`${setup.operatorNamespace}/${TLS_SECRET_NAME}`]);
    expect(Object.keys(stored[0]!.data ?? {}).sort()).toEqual(TLS_SECRET_KEYS);
  });

  it("are absent from the Events about the grant and its pods", async () => {
    const events = (await admin.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace })).items;
    expect(events.map((e) => e.reason)).toContain("PodsMissed");
    expect(secretsIn(JSON.stringify(events), secrets())).toEqual([]);
  });

  it("are absent from the operator's and the agent's metrics", async () => {
    const operatorMetrics = await setup.operator().metrics();
    const agentMetrics = await (await fetch(`${agent.metricsUrl}${AGENT_PATHS.metrics}`)).text();
    expect(operatorMetrics).toContain("ddcred_admission_requests_total");
    expect(agentMetrics).toContain('ddcred_agent_requests_total{path="/v1/datadog-token",code="200"}');
    expect(secretsIn(operatorMetrics, secrets())).toEqual([]);
    expect(secretsIn(agentMetrics, secrets())).toEqual([]);
  });

  it("are absent from the operator's log (run at debug level) and the agent's log, read once both have exited", async () => {
    // Stopped first, so whatever either still buffered is in the log too.
    await setup.operator().stop();
    await agent.process.stop();
    const operatorLog = setup.operator().process.log();
    const agentLog = agent.process.log();
    expect(operatorLog).toContain('"pod":"app"');
    expect(agentLog).toContain("refreshed datadog_intake_key");
    expect(secretsIn(operatorLog, secrets())).toEqual([]);
    expect(secretsIn(agentLog, secrets())).toEqual([]);
  });
});
