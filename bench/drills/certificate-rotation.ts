// Drill 5: the webhook's self-managed certificates rotate under traffic. Two
// replicas behind the endpoint balancer share a serving certificate living
// 8 s and a CA living 20 s (each rotated with a third left), while pods are
// created without pause: at least two serving rotations and one CA rotation
// happen during the traffic. Counts failed creations and what rotated.
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api } from "@kubernetes/client-node";
import { sumMetric } from "../../test/harness/operator.js";
import { certificatesIn, servedCertificate, webhookCaBundles } from "../../test/harness/webhook.js";
import { startDrillControlPlane, WEBHOOK_CONFIGURATION, type Replica } from "./control-plane.js";
import { failureKind, podBurst, podClient } from "./pod-burst.js";
import { seconds, tally, type DrillReport } from "./report.js";
import { drillPod, startWebhookFleet } from "./webhook-fleet.js";

const SERVING_SECONDS = 8;
const CA_SECONDS = 20;
const TRAFFIC_SECONDS = 24;
const RATE_PER_SECOND = 20;
const CONCURRENCY = 4;

export async function certificateRotation(): Promise<DrillReport> {
  const plane = await startDrillControlPlane();
  try {
    const fleet = await startWebhookFleet(plane, {
      replicas: 2,
      env: { DDCRED_TLS_CERT_VALIDITY_SECONDS: String(SERVING_SECONDS), DDCRED_TLS_CA_VALIDITY_SECONDS: String(CA_SECONDS) },
    });
    const client = podClient(plane.cluster, CONCURRENCY);
    try {
      const served = new Set<string>();
      const authorities = new Set<string>();
      let largestBundle = 0;
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          try {
            served.add((await servedCertificate(fleet.balancer.port)).fingerprint256);
            const bundle = certificatesIn((await webhookCaBundles(plane.admin, WEBHOOK_CONFIGURATION)).bundles[0] ?? "");
            largestBundle = Math.max(largestBundle, bundle.length);
            for (const authority of bundle) authorities.add(authority.fingerprint256);
          } catch {
            // a handshake racing a reload: the next look sees it
          }
          await sleep(250);
        }
      })();
      const rotationsBefore = await rotationCounts(fleet.replicas);
      const count = TRAFFIC_SECONDS * RATE_PER_SECOND;
      const started = performance.now();
      const creations = await podBurst(client, {
        namespace: fleet.workload,
        count,
        concurrency: CONCURRENCY,
        ratePerSecond: RATE_PER_SECOND,
        podFor: drillPod("rotation"),
      }).finally(() => {
        watching = false;
      });
      const trafficMs = performance.now() - started;
      await watcher;

      const failed = creations.filter((creation) => creation.status >= 300 || creation.status === 0);
      const created = creations.filter((creation) => creation.status < 300);
      const uninjected = created.filter((creation) => !creation.injected).length;
      const rotationsAfter = await rotationCounts(fleet.replicas);
      const written = (reason: keyof typeof rotationsAfter) => rotationsAfter[reason] - rotationsBefore[reason];
      const reloads = fleet.replicas.map((replica) => (replica.operator.process.log().match(/serving certificate reloaded/g) ?? []).length);
      const stored = await plane.admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: fleet.workload, labelSelector: "burst=rotation" });

      return {
        drill: "cert-rotation",
        saw: `${failed.length} of ${count} creations failed${failed.length ? ` (${tally(failed.map(failureKind), 2)})` : ""}`,
        lost: `${count - created.length} pods not created; ${uninjected} created without the agent`,
        recovered: failed.length === 0 ? "nothing to recover" : `failures at ${failed.map((f) => seconds(f.endedAt - started)).join(", ").slice(0, 80)}`,
        figures: [
          ["lifetimes", `serving certificate ${SERVING_SECONDS} s, CA ${CA_SECONDS} s, each rotated with a third left; 2 replicas sharing the Secret`],
          ["traffic", `${count} creations at ${RATE_PER_SECOND}/s, ${CONCURRENCY} in flight, over ${seconds(trafficMs)}`],
          ["HTTP codes", tally(creations.map((creation) => String(creation.status)))],
          ["created / injected / stored", `${created.length} / ${created.length - uninjected} / ${stored.items.length}`],
          ["serving certificates seen through the balancer", String(served.size)],
          ["CAs seen in the caBundle (most at once)", `${authorities.size} (${largestBundle})`],
          ["rotations written during the traffic", `serving ${written("ServingCertificateExpiring")}, CA ${written("AuthorityExpiring")}, CA published ${written("AuthorityPublished")}`],
          ["serving certificate reloads per replica", reloads.join(", ")],
        ],
      };
    } finally {
      client.close();
      await fleet.stop();
    }
  } finally {
    await plane.stop();
  }
}

/** Certificate rotations written so far by all replicas, by reason. */
async function rotationCounts(replicas: readonly Replica[]) {
  const metrics = await Promise.all(replicas.map((replica) => replica.operator.metrics()));
  const written = (reason: string) =>
    metrics.reduce((sum, text) => sum + sumMetric(text, "ddcred_webhook_certificate_rotations_total", { reason, result: "written" }), 0);
  return { ServingCertificateExpiring: written("ServingCertificateExpiring"), AuthorityExpiring: written("AuthorityExpiring"), AuthorityPublished: written("AuthorityPublished") };
}
