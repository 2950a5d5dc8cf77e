// The operator process: informers shared by the controller and the webhook,
// the controller behind leader election, the admission webhook on every
// replica, and a health/metrics server. SIGTERM shuts it all down in order.
import { randomBytes } from "node:crypto";
import { collectDefaultMetrics, Registry } from "prom-client";
import { GrantController } from "../controller/controller.js";
import { registerBuildInfo } from "../shared/build-info.js";
import { grantInformer, namespaceInformer, podInformer, policyInformer, type Caches } from "../shared/kube/caches.js";
import { loadKubeConfig } from "../shared/kube/client.js";
import type { SupervisedCache } from "../shared/kube/informer.js";
import { createEventRecorder } from "../shared/kube/events.js";
import { LeaderElector } from "../shared/kube/leader-election.js";
import { createLogger } from "../shared/logger.js";
import { expectedAgentFingerprint } from "../webhook/injected-agent.js";
import { parseOperatorConfig } from "./config.js";
import { startHealthServer } from "./health-server.js";
import { startRayOwners, type RayOwners } from "./ray-owners.js";
import { startWebhook, type RunningWebhook } from "./start-webhook.js";
import { cacheProblems, startCacheWatchdog } from "./watchdog.js";

async function main(): Promise<void> {
  const parsed = parseOperatorConfig(process.env);
  if (!parsed.ok) {
    for (const error of parsed.errors) process.stderr.write(`ddcred-operator: ${error}\n`);
    process.exit(2);
  }
  const config = parsed.config;
  const logger = createLogger("operator", config.logLevel);
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry);
  const identity = `${config.podName}_${randomBytes(4).toString("hex")}`;

  const caches: Caches = {
    grants: grantInformer(kubeConfig, logger),
    pods: podInformer(kubeConfig, logger),
    namespaces: namespaceInformer(kubeConfig, logger),
  };
  const policies = policyInformer(kubeConfig, logger);
  // The webhook needs grants, policies and namespace labels; only the controller needs every pod.
  const watched: SupervisedCache[] = [caches.grants, caches.namespaces, policies, ...(config.controller.enabled ? [caches.pods] : [])];
  for (const informer of [caches.grants, caches.namespaces, policies, caches.pods]) {
    if (watched.includes(informer)) informer.start();
  }

  // Not among the caches liveness counts: the webhook resolves a pod whose
  // owner is not cached yet by a direct read, and the controller reconciles
  // again when the owner arrives. The watchdog still relists them when silent.
  const rayOwners: RayOwners | undefined =
    config.webhook.enabled || config.controller.enabled ? startRayOwners(kubeConfig, logger) : undefined;
  const watchdog = startCacheWatchdog(() => [...watched, ...(rayOwners?.caches() ?? [])], logger);

  const events = createEventRecorder(kubeConfig, identity, logger);
  let controller: GrantController | undefined;
  let elector: LeaderElector | undefined;
  if (config.controller.enabled) {
    const active = new GrantController({
      kubeConfig,
      caches,
      operatorNamespace: config.namespace,
      events,
      registry,
      logger,
      concurrency: config.controller.concurrency,
      policies,
      requirePolicy: config.requirePolicy,
      expectedAgent: (grant) => expectedAgentFingerprint(grant, config.injection),
      resyncIntervalMs: config.controller.resyncIntervalSeconds * 1000,
      revocation: config.controller.revocation,
      ...(rayOwners ? { rayOwners } : {}),
    });
    controller = active;
    if (config.leaderElection.enabled) {
      const le = config.leaderElection;
      elector = new LeaderElector({
        kubeConfig,
        namespace: config.namespace,
        name: le.leaseName,
        identity,
        leaseDurationSeconds: le.leaseDurationSeconds,
        renewDeadlineMs: le.renewDeadlineSeconds * 1000,
        retryPeriodMs: le.retryPeriodSeconds * 1000,
        logger,
        onStartedLeading: (term) => void active.start(term),
        onStoppedLeading: () => active.stop(),
      });
      elector.start();
    } else {
      void active.start();
    }
  }

  let webhook: RunningWebhook | undefined;
  if (config.webhook.enabled) {
    webhook = startWebhook({
      config,
      kubeConfig,
      grants: caches.grants,
      policies,
      namespaces: caches.namespaces,
      rayOwners,
      registry,
      logger,
      onFatal: (error) => {
        logger.fatal({ err: error }, "the admission webhook cannot run");
        process.exit(1);
      },
    });
  }

  let stopping = false;
  const health = await startHealthServer(config.health.address, config.health.port, registry, {
    liveness: () => cacheProblems(watched, { staleAfterMs: 5 * 60_000 }),
    readiness: () => [
      ...(stopping ? ["shutting down"] : []),
      ...watched.filter((informer) => !informer.hasSynced()).map(() => "caches not yet synced"),
      ...(webhook?.readinessProblems() ?? []),
    ],
  });
  const address = health.address();
  logger.info(
    { identity, namespace: config.namespace, health: typeof address === "object" && address ? address.port : address },
    "operator started",
  );

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true; // /readyz fails from now on
    logger.info({ signal, delaySeconds: config.shutdownDelaySeconds }, "shutting down");
    const force = setTimeout(() => process.exit(1), (config.shutdownDelaySeconds + 20) * 1000);
    force.unref();
    clearInterval(watchdog);
    // Release leadership at once, so another replica takes over the controller...
    const controllerStopped = (async () => {
      if (elector) await elector.stop();
      else await controller?.stop();
      await events.flush();
    })();
    // ...but keep admitting pods until the endpoints controller and every
    // kube-proxy have stopped sending us new connections (the API server
    // does not retry a failed admission call), each answer closing its
    // connection so the API server's keep-alive pool moves to the other
    // replicas meanwhile; then drain in-flight ones while the grant cache
    // they read is still live.
    webhook?.startDraining();
    await new Promise((resolve) => setTimeout(resolve, config.shutdownDelaySeconds * 1000));
    await webhook?.close();
    await controllerStopped;
    await Promise.all([...watched.map((informer) => informer.stop()), rayOwners?.stop()]);
    await new Promise((resolve) => health.close(resolve));
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`ddcred-operator: fatal: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
