// The baseline of bench/scale: client-node's stock informers (makeInformer)
// over the objects the operator watches — every pod, namespace, grant and
// policy, kept whole — and nothing else. Prints one JSON line when all have
// listed, then idles until killed.
//   node scripts/run-ts.mjs bench/scale/bare-informer.ts <kubeconfig>
import { CoreV1Api, CustomObjectsApi, KubeConfig, makeInformer, type KubernetesObject } from "@kubernetes/client-node";
import { API_GROUP, API_VERSION } from "../../src/shared/names.js";
import { GRANT_PLURAL } from "../../src/shared/grant.js";
import { POLICY_PLURAL } from "../../src/shared/policy.js";

const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(process.argv[2] ?? "");
const core = kubeConfig.makeApiClient(CoreV1Api);
const custom = kubeConfig.makeApiClient(CustomObjectsApi);
const started = performance.now();

const customList = (plural: string) => () =>
  custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural }) as Promise<{ items: KubernetesObject[]; metadata: { resourceVersion: string } }>;

const informers = [
  makeInformer(kubeConfig, "/api/v1/pods", () => core.listPodForAllNamespaces()),
  makeInformer(kubeConfig, "/api/v1/namespaces", () => core.listNamespace()),
  makeInformer(kubeConfig, `/apis/${API_GROUP}/${API_VERSION}/${GRANT_PLURAL}`, customList(GRANT_PLURAL) as never),
  makeInformer(kubeConfig, `/apis/${API_GROUP}/${API_VERSION}/${POLICY_PLURAL}`, customList(POLICY_PLURAL) as never),
];
for (const informer of informers) informer.on("error", (error: unknown) => console.error(JSON.stringify({ error: String(error) })));
await Promise.all(informers.map((informer) => informer.start()));
console.log(JSON.stringify({ synced: performance.now() - started, objects: informers.reduce((n, i) => n + i.list().length, 0) }));
setInterval(() => {}, 60_000);
