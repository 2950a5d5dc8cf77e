// ddcred explain: what the webhook would do with a pod, a pod template or a
// workload manifest, and why, against what the cluster holds now.
//
//   ddcred-explain [--kubeconfig FILE] [--namespace NS] [--operator-namespace NS] [-o text|json] FILE|-
//
// In the image: kubectl exec -i -n ddcred-system deploy/<release>-ddcred-operator -- node /app/dist/explain.mjs - < pod.yaml
// From a clone: npm run explain -- --kubeconfig ~/.kube/config pod.yaml
// Exit code: 0 when every pod would be injected, 1 when some would not, 2 on a usage or read error.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { loadKubeConfig } from "../shared/kube/client.js";
import { clusterPolicies, namespaceView, operatorView } from "./cluster.js";
import { explainPod } from "./explain.js";
import { renderExplanation } from "./render.js";
import { manifestPods, podAsCreated, type ManifestObject } from "./workload-pods.js";

const USAGE = "usage: ddcred-explain [--kubeconfig FILE] [--namespace NS] [--operator-namespace NS] [-o text|json] FILE|-";

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      kubeconfig: { type: "string" },
      namespace: { type: "string", short: "n" },
      "operator-namespace": { type: "string", default: "ddcred-system" },
      output: { type: "string", short: "o", default: "text" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || positionals.length !== 1 || !["text", "json"].includes(values.output)) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const text = readFileSync(positionals[0] === "-" ? 0 : positionals[0]!, "utf8");
  const objects: ManifestObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      process.stderr.write(`ddcred-explain: ${positionals[0]} is not valid YAML: ${document.errors[0]!.message}\n`);
      return 2;
    }
    const value = document.toJS() as ManifestObject | null;
    if (value) objects.push(value);
  }
  const kubeConfig = loadKubeConfig(values.kubeconfig);
  const defaultNamespace = values.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? "default";
  const pods = objects.map((object) => manifestPods(object, defaultNamespace));
  for (const error of pods.flatMap((p) => p.errors)) process.stderr.write(`ddcred-explain: ${error}\n`);

  const operator = await operatorView(kubeConfig, values["operator-namespace"], process.env);
  const { policies, notes: policyNotes } = await clusterPolicies(kubeConfig);
  const namespaces = new Map<string, Awaited<ReturnType<typeof namespaceView>>>();
  const reports: { source: string; explanation: ReturnType<typeof explainPod> }[] = [];
  for (const manifestPod of pods.flatMap((p) => p.pods)) {
    const namespace = manifestPod.pod.metadata?.namespace ?? defaultNamespace;
    let view = namespaces.get(namespace);
    if (!view) namespaces.set(namespace, (view = await namespaceView(kubeConfig, namespace)));
    const explanation = explainPod(podAsCreated(manifestPod), {
      namespace,
      namespaceLabels: view.labels,
      grants: view.grants,
      policies: { policies, requirePolicy: operator.requirePolicy },
      settings: operator.settings,
      ...(manifestPod.rayWorkload ? { rayWorkload: manifestPod.rayWorkload } : {}),
    });
    reports.push({ source: manifestPod.source, explanation });
  }
  const notes = [`operator settings: ${operator.from}`, ...policyNotes, ...[...namespaces.values()].flatMap((v) => v.notes)];
  if (values.output === "json") {
    process.stdout.write(`${JSON.stringify({ notes, pods: reports }, null, 2)}\n`);
  } else {
    process.stdout.write(`${[...reports.map((r) => renderExplanation(r.source, r.explanation)), ...notes.map((n) => `note: ${n}`)].join("\n\n")}\n`);
  }
  if (reports.length === 0) return 2;
  return reports.every((r) => r.explanation.namespaceSeen && r.explanation.decision.injected && !r.explanation.refusal) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`ddcred-explain: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
