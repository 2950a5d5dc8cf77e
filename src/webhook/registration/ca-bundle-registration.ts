// Keeps caBundle of every webhook in our MutatingWebhookConfiguration equal
// to the CA bundle in the TLS Secret (self-managed mode): at start, whenever
// the bundle changes, and whenever the object drifts (a `helm upgrade`
// re-applies it with an empty caBundle): the one object is watched by name.
//
// Every replica patches, not only a leader, because:
//   - what is written is a function of the Secret alone, re-read from the API
//     server (not the cache) just before each patch, so replicas write the
//     same bytes and a replica with a stale cache cannot put an old bundle
//     back (the two-CAs fight of vault-helm #580 needs two truths; there is one);
//   - each patch is guarded by the resourceVersion it was computed from;
//   - the webhook runs on every replica, with or without the controller and its
//     leader election, and a new CA must reach the API server even while the
//     leader is stuck.
// Patches happen only on drift, so N replicas cost N reads and at most N
// identical patches per rotation or `helm upgrade`.
import { AdmissionregistrationV1Api, type KubeConfig, type V1MutatingWebhookConfiguration } from "@kubernetes/client-node";
import { Counter, type Registry } from "prom-client";
import { apiError, describeError, isNotFound } from "../../shared/kube/client.js";
import { Informer } from "../../shared/kube/informer.js";
import type { Logger } from "../../shared/logger.js";
import type { CaBundleSource } from "../tls/secret-certificates.js";
import { WakeLoop } from "../tls/wake-loop.js";
import { caBundlePatch, staleWebhooks, type WebhookConfigurationView } from "./ca-bundle-patch.js";

const CONFLICT_RECHECK_MS = 200;

export interface CaBundleRegistrationOptions {
  readonly kubeConfig: KubeConfig;
  readonly configurationName: string;
  readonly bundles: CaBundleSource;
  readonly logger: Logger;
  readonly registry: Registry;
  /** A check now and then even without events (default 5 minutes). */
  readonly recheckIntervalMs?: number;
}

export class CaBundleRegistration {
  private readonly api: AdmissionregistrationV1Api;
  private readonly informer: Informer<V1MutatingWebhookConfiguration, V1MutatingWebhookConfiguration>;
  private readonly loop: WakeLoop;
  private readonly patches: Counter<"result">;
  private stopBundleListener: (() => void) | undefined;
  private reportedMissing = false;

  constructor(private readonly options: CaBundleRegistrationOptions) {
    const { kubeConfig, configurationName, logger } = options;
    this.api = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    const fieldSelector = `metadata.name=${configurationName}`;
    this.informer = new Informer({
      name: "webhook-configuration",
      kubeConfig,
      logger,
      watchPath: "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
      fieldSelector,
      list: async ({ limit, continueToken }) => {
        const page = await this.api.listMutatingWebhookConfiguration({ fieldSelector, limit, ...(continueToken ? { _continue: continueToken } : {}) });
        return { items: page.items, resourceVersion: page.metadata?.resourceVersion ?? "", continueToken: page.metadata?._continue };
      },
      transform: (configuration) => configuration,
      namespaceOf: () => "",
      nameOf: (configuration) => configuration.metadata?.name ?? "",
    });
    this.informer.onEvent(() => this.loop.wake());
    this.patches = new Counter({
      name: "ddcred_webhook_ca_bundle_patches_total",
      help: "caBundle patches of the MutatingWebhookConfiguration by this replica, by result (patched; conflict: it changed first; failed).",
      labelNames: ["result"] as const,
      registers: [options.registry],
    });
    const every = options.recheckIntervalMs ?? 5 * 60_000;
    this.loop = new WakeLoop({
      step: async () => (await this.reconcile()) ?? Date.now() + every,
      onError: (error, failures) =>
        logger.error({ configuration: configurationName, failures, error: describeError(error) }, "webhook caBundle registration failed; retrying"),
    });
  }

  start(): void {
    this.stopBundleListener = this.options.bundles.onCaBundleChange(() => this.loop.wake());
    this.informer.start();
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.stopBundleListener?.();
    await this.loop.stop();
    await this.informer.stop();
  }

  /** Returns when to check again sooner than usual, if ever. */
  private async reconcile(): Promise<number | undefined> {
    const { configurationName, bundles, logger } = this.options;
    if (!this.informer.hasSynced()) return undefined; // its first list wakes us
    const cached = this.informer.get("", configurationName);
    const bundle = bundles.caBundle();
    if (!cached || !bundle) {
      if (!cached && !this.reportedMissing) {
        logger.warn({ configuration: configurationName }, "MutatingWebhookConfiguration not found; its caBundle will be set when it appears");
        this.reportedMissing = true;
      }
      return undefined;
    }
    this.reportedMissing = false;
    if (caBundlePatch(view(cached), bundle).length === 0) return undefined;

    // Drift seen in the cache: confirm against the API server, with the Secret's bundle as it is now.
    const fresh = await this.read();
    const freshBundle = (await bundles.readCaBundle()) ?? bundle;
    if (!fresh) return undefined;
    const operations = caBundlePatch(view(fresh), freshBundle);
    if (operations.length === 0) return undefined;
    const webhooks = staleWebhooks(view(fresh), freshBundle);
    try {
      await this.api.patchMutatingWebhookConfiguration({ name: configurationName, body: operations });
    } catch (error) {
      const code = apiError(error)?.code;
      // 422: the resourceVersion test failed, someone (often another replica doing the same) wrote first.
      if (code === 409 || code === 422) {
        this.patches.inc({ result: "conflict" });
        logger.debug({ configuration: configurationName, code }, "webhook configuration changed before the caBundle patch; checking again");
        return Date.now() + CONFLICT_RECHECK_MS;
      }
      this.patches.inc({ result: "failed" });
      throw error;
    }
    this.patches.inc({ result: "patched" });
    logger.info({ configuration: configurationName, webhooks }, "webhook caBundle set to the CA bundle of the TLS Secret");
    return undefined;
  }

  private async read(): Promise<V1MutatingWebhookConfiguration | undefined> {
    try {
      return await this.api.readMutatingWebhookConfiguration({ name: this.options.configurationName });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

function view(configuration: V1MutatingWebhookConfiguration): WebhookConfigurationView {
  return {
    resourceVersion: configuration.metadata?.resourceVersion ?? "",
    webhooks: (configuration.webhooks ?? []).map((webhook) => ({ name: webhook.name, caBundle: webhook.clientConfig.caBundle || undefined })),
  };
}
