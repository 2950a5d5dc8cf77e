// The admission webhook as the operator runs it on every replica: a serving
// certificate (self-managed in a Secret, or cert-manager's files), the
// caBundle registration (self-managed only), and the HTTPS admission server
// reading grants from the operator's informer cache.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import type { Grant } from "../shared/grant.js";
import type { NamespaceRecord } from "../shared/kube/caches.js";
import type { Informer, ReadCache } from "../shared/kube/informer.js";
import { policyVerdict, type Policy } from "../shared/policy.js";
import type { Logger } from "../shared/logger.js";
import type { GrantCache } from "../webhook/grant-cache.js";
import type { RayOwnerSource } from "../webhook/ray-resolution.js";
import { CaBundleRegistration } from "../webhook/registration/ca-bundle-registration.js";
import { startAdmissionServer, type AdmissionServer } from "../webhook/server.js";
import { certificateMetrics } from "../webhook/tls/certificate-metrics.js";
import { FileCertificates } from "../webhook/tls/file-certificates.js";
import { SecretCertificates } from "../webhook/tls/secret-certificates.js";
import { servingNames } from "../webhook/tls/serving-names.js";
import type { OperatorConfig } from "./config.js";

export interface RunningWebhook {
  /** Why this replica cannot admit pods yet; empty once it can. */
  readinessProblems(): string[];
  /** Keeps admitting, but asks each client to reconnect (elsewhere) after its current request. */
  startDraining(): void;
  /** Stops accepting admissions, lets in-flight ones finish, then stops the certificate machinery. */
  close(): Promise<void>;
}

export interface WebhookDependencies {
  readonly config: OperatorConfig;
  readonly kubeConfig: KubeConfig;
  readonly grants: Informer<Grant, Grant>;
  /** Cluster policy and the namespace labels its selectors read. */
  readonly policies: ReadCache<Policy>;
  readonly namespaces: ReadCache<NamespaceRecord>;
  /** Owners of Ray pods, for grants that name Ray workloads. */
  readonly rayOwners?: RayOwnerSource;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Called when the webhook cannot run at all (e.g. its port is taken): the process should exit. */
  readonly onFatal: (error: unknown) => void;
}

/**
 * The grants the admission path may inject from: those of the namespace that
 * cluster policy allows. A grant policy denies is simply not there, so a pod
 * it alone selects is admitted without an agent (the controller reports the
 * grant as PolicyDenied and counts the pod as missed).
 */
export function policyFilteredGrants(
  grants: ReadCache<Grant>,
  policies: ReadCache<Policy>,
  namespaces: ReadCache<NamespaceRecord>,
  requirePolicy: boolean,
): GrantCache {
  const caches = [grants, policies, namespaces];
  return {
    grantsInNamespace(namespace) {
      const candidates = grants.list(namespace);
      const set = { policies: policies.list(), requirePolicy };
      if (candidates.length === 0 || (set.policies.length === 0 && !requirePolicy)) return candidates;
      const labels = namespaces.get("", namespace)?.labels;
      return candidates.filter((grant) => policyVerdict(grant, labels, set).allowed);
    },
    hasSynced: () => caches.every((cache) => cache.hasSynced()),
    waitForSync: async (timeoutMs) => (await Promise.all(caches.map((cache) => cache.waitForSync(timeoutMs)))).every(Boolean),
  };
}

export function startWebhook(dependencies: WebhookDependencies): RunningWebhook {
  const { config, kubeConfig, grants, policies, namespaces, rayOwners, registry, logger, onFatal } = dependencies;
  const webhook = config.webhook;
  const metrics = certificateMetrics(registry);
  const certificates =
    webhook.tlsMode === "files"
      ? new FileCertificates({ directory: webhook.tlsCertDir, logger, metrics })
      : new SecretCertificates({
          kubeConfig,
          namespace: config.namespace,
          secretName: webhook.tlsSecretName,
          policy: {
            names: servingNames(webhook.serviceName, config.namespace, webhook.extraSans),
            servingLifetimeMs: webhook.certificateValiditySeconds * 1000,
            authorityLifetimeMs: webhook.caValiditySeconds * 1000,
          },
          logger,
          metrics,
        });
  const registration =
    certificates instanceof SecretCertificates
      ? new CaBundleRegistration({ kubeConfig, configurationName: webhook.configurationName, bundles: certificates, logger, registry })
      : undefined;
  const grantCache = policyFilteredGrants(grants, policies, namespaces, config.requirePolicy);

  let server: AdmissionServer | undefined;
  let closing = false;
  let draining = false;
  certificates.start();
  registration?.start();
  const serving = (async () => {
    // Resolves false when the certificates are stopped before any was loaded.
    if (!(await certificates.whenLoaded()) || closing) return;
    server = await startAdmissionServer({
      grants: grantCache,
      settings: config.injection,
      cacheSyncWaitMs: webhook.cacheSyncWaitMs,
      ...(rayOwners ? { rayOwners } : {}),
      certificates,
      logger,
      registry,
      host: webhook.address,
      port: webhook.port,
    });
    if (draining) server.startDraining();
  })();
  serving.catch(onFatal);

  return {
    readinessProblems() {
      if (!certificates.loaded()) return ["webhook serving certificate not loaded yet"];
      if (!server) return ["webhook admission server not listening yet"];
      return [];
    },
    startDraining() {
      draining = true;
      server?.startDraining();
    },
    async close() {
      closing = true;
      let stopped: Promise<unknown> | undefined;
      const stopCertificates = () => (stopped ??= Promise.all([registration?.stop(), certificates.stop()]));
      // A start-up still waiting for its first certificate is released by stopping the certificates.
      if (!certificates.loaded()) await stopCertificates();
      await serving.catch(() => undefined);
      await server?.close();
      await stopCertificates();
    },
  };
}
