// The webhook drills on the test bed's real node (test/harness/node/webhook-drills.ts
// says what each breaks), run on a node of their own with the chart
// installed as a user installs it. Prints figures; asserts nothing.
//
//   node scripts/run-ts.mjs bench/drills/node.ts [drill...]     (root; no test run at the same time)
import { adminKubeConfig } from "../../test/harness/cluster.js";
import { createGrant, readyCondition, TEST_ORG_UUID, waitForGrant } from "../../test/harness/kube.js";
import { startNodeCluster } from "../../test/harness/node/node-cluster.js";
import { startCredentialStack } from "../../test/harness/node/credential-stack.js";
import { createNodeNamespace } from "../../test/harness/node/pods.js";
import { NODE_DRILLS, ROTATION_SCOPE, runCertRotationDrill, runNodeDrill, type NodeDrill } from "../../test/harness/node/webhook-drills.js";
import { printDrill, printSummary, type DrillRun } from "./report.js";

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(NODE_DRILLS as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`unknown drill(s): ${unknown.join(", ")}; known: ${NODE_DRILLS.join(", ")}`);
  process.exit(2);
}
const chosen = (requested.length > 0 ? requested : NODE_DRILLS) as NodeDrill[];
const node = await startNodeCluster();
const runs: DrillRun[] = [];
try {
  const stack = await startCredentialStack(node, {
    grantedRoles: ["datadog/drill"],
    // node-cert-rotation installs a release of its own for the namespaces it labels: this one leaves them to it.
    values: { webhook: { namespaceSelectorExpressions: Object.entries(ROTATION_SCOPE).map(([key, value]) => ({ key, operator: "NotIn", values: [value] })) } },
  });
  try {
    const admin = adminKubeConfig(node);
    const namespace = await createNodeNamespace(admin, { prefix: "drill", injection: true });
    await createGrant(admin, namespace, "drill", { podSelector: { matchLabels: { app: "drill" } }, aws: { roleArn: stack.moto.roleArn("datadog/drill") }, datadog: { orgUuid: TEST_ORG_UUID } });
    await waitForGrant(admin, namespace, "drill", (g) => readyCondition(g)?.status === "True");
    for (const drill of chosen) {
      const start = performance.now();
      try {
        const { creations: _creations, ...report } =
          drill === "node-cert-rotation" ? await runCertRotationDrill(node, stack.info(), admin) : await runNodeDrill(drill, node, stack.release, admin, namespace);
        runs.push({ drill, seconds: (performance.now() - start) / 1000, report });
      } catch (error) {
        runs.push({ drill, seconds: (performance.now() - start) / 1000, crash: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
      printDrill(runs.at(-1)!);
    }
  } finally {
    await stack.stop();
  }
} finally {
  await node.stop();
}
printSummary(runs);
process.exitCode = runs.some((run) => run.crash) ? 1 : 0;
