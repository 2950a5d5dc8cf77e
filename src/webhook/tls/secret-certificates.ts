// Self-managed webhook TLS: the CA and serving certificate live in one Secret
// in the operator's namespace, and every replica serves what that Secret
// holds. Writes are create-if-absent (409: another replica won, read its
// Secret) and resourceVersion-guarded updates (409: someone wrote first,
// re-read and re-plan), so replicas racing at start-up or at a rotation end
// with one CA and one serving certificate (vault-helm #580). What to write
// is decided by planRotation; this file only reads, writes and reloads.
import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { apiError, describeError, isNotFound } from "../../shared/kube/client.js";
import { Informer } from "../../shared/kube/informer.js";
import type { Logger } from "../../shared/logger.js";
import { ServedCertificate } from "./served-certificate.js";
import type { CertificateMetrics } from "./certificate-metrics.js";
import { planRotation, type CertificatePolicy, type ObservedSecret } from "./rotation-plan.js";
import { contentsAfter, type TlsSecretContents } from "./secret-contents.js";
import { bundlePem, readAuthorities, readTlsMaterial, TLS_FILES, type TlsMaterial } from "./tls-material.js";
import { WakeLoop } from "./wake-loop.js";

/** When the first CA of the bundle entered it: the serving certificate moves to it only after a delay. */
export const AUTHORITY_ADDED_AT_ANNOTATION = "ddcred.io/ca-added-at";
const MANAGED_BY = { "app.kubernetes.io/managed-by": "ddcred-operator" };
const MAX_WRITE_ATTEMPTS = 5;

export interface SecretCertificatesOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly secretName: string;
  readonly policy: CertificatePolicy;
  readonly logger: Logger;
  readonly metrics: CertificateMetrics;
  readonly now?: () => number;
}

/** What the registration needs: the CA bundle clients must trust, as the Secret holds it. */
export interface CaBundleSource {
  /** PEM bundle last loaded, if any. */
  caBundle(): string | undefined;
  onCaBundleChange(listener: (bundle: string) => void): () => void;
  /** The bundle as the API server holds it right now (a fresh read, not the cache). */
  readCaBundle(): Promise<string | undefined>;
}

export class SecretCertificates extends ServedCertificate implements CaBundleSource {
  private readonly core: CoreV1Api;
  private readonly informer: Informer<V1Secret, V1Secret>;
  private readonly loop: WakeLoop;
  private readonly now: () => number;
  /** Latest Secret known: undefined before the first read, null when it does not exist. */
  private latest: V1Secret | null | undefined;
  private bundle: string | undefined;
  /** The material loaded last: what this replica serves, and what a deleted Secret is rebuilt from. */
  private served: TlsMaterial | undefined;
  private readonly bundleListeners = new Set<(bundle: string) => void>();

  constructor(private readonly options: SecretCertificatesOptions) {
    super();
    const { kubeConfig, namespace, secretName, logger } = options;
    this.now = options.now ?? Date.now;
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    const fieldSelector = `metadata.name=${secretName}`;
    this.informer = new Informer<V1Secret, V1Secret>({
      name: "webhook-tls-secret",
      kubeConfig,
      logger,
      watchPath: `/api/v1/namespaces/${namespace}/secrets`,
      fieldSelector,
      list: async ({ limit, continueToken }) => {
        const page = await this.core.listNamespacedSecret({ namespace, fieldSelector, limit, ...(continueToken ? { _continue: continueToken } : {}) });
        return { items: page.items, resourceVersion: page.metadata?.resourceVersion ?? "", continueToken: page.metadata?._continue };
      },
      transform: (secret) => secret,
      namespaceOf: () => namespace,
      nameOf: (secret) => secret.metadata?.name ?? "",
    });
    this.informer.onEvent((event) => {
      this.latest = event.type === "delete" ? null : event.object;
      this.loop.wake();
    });
    this.loop = new WakeLoop({
      step: () => this.reconcile(),
      onError: (error, failures) => logger.error({ tlsSecret: secretName, failures, error: describeError(error) }, "webhook TLS Secret reconcile failed; retrying"),
    });
  }

  start(): void {
    this.informer.start();
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.informer.stop();
    this.releaseWaiters();
  }


  caBundle(): string | undefined {
    return this.bundle;
  }

  onCaBundleChange(listener: (bundle: string) => void): () => void {
    this.bundleListeners.add(listener);
    return () => this.bundleListeners.delete(listener);
  }

  async readCaBundle(): Promise<string | undefined> {
    const secret = await this.read();
    const authorities = readAuthorities(decoded(secret)[TLS_FILES.caBundle]);
    return authorities.ok ? bundlePem(authorities.value) : undefined;
  }

  /** One pass: load what the Secret holds, write what the plan asks for; returns when to look again. */
  private async reconcile(): Promise<number | undefined> {
    const { policy, logger, metrics, secretName } = this.options;
    let secret = this.latest === undefined ? await this.read() : this.latest;
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt += 1) {
      const observed = observe(secret);
      if (observed.exists && observed.reading.ok) this.load(observed.reading.value);
      const now = this.now();
      const plan = planRotation(observed, now, policy, this.served);
      if (plan.action === "keep") return plan.recheckAt + 10;

      const { reason, message } = plan.change;
      // A Secret that is gone or unusable is rebuilt from what this replica serves (when the plan keeps its certificate).
      const current =
        observed.exists && observed.reading.ok
          ? { material: observed.reading.value, authorityAddedAt: observed.authorityAddedAt }
          : this.served && { material: this.served, authorityAddedAt: undefined };
      const contents = await contentsAfter(current, plan.change, now, policy);
      try {
        secret = secret ? await this.replace(secret, contents) : await this.create(contents);
        this.latest = secret;
        metrics.rotation(reason, "written");
        logger.info({ tlsSecret: secretName, reason }, `webhook TLS Secret written: ${message}`);
      } catch (error) {
        const code = apiError(error)?.code;
        if (code !== 409 && code !== 404) {
          metrics.rotation(reason, "failed");
          throw error;
        }
        // Another replica (or a person) changed the Secret first: decide again from what it holds now.
        metrics.rotation(reason, "conflict");
        logger.info({ tlsSecret: secretName, reason, code }, "webhook TLS Secret changed underneath this write; re-reading it");
        secret = await this.read();
        this.latest = secret;
      }
    }
    return this.now(); // still changing under us: come back at once (the loop backs off on errors only)
  }

  /** Starts serving what the Secret holds and tells listeners what changed. */
  private load(material: TlsMaterial): void {
    const { logger, metrics, secretName } = this.options;
    this.served = material;
    const serving = material.serving;
    if (this.serving?.fingerprint !== serving.fingerprint) {
      const first = !this.loaded();
      metrics.loaded(serving, material.authorities[0]);
      logger.info(
        { tlsSecret: secretName, fingerprint: serving.fingerprint, notAfter: new Date(serving.notAfter).toISOString(), issuer: material.servingIssuer },
        first ? "webhook serving certificate loaded" : "webhook serving certificate rotated",
      );
      this.serve({ cert: serving.certificatePem, key: serving.privateKeyPem }, serving.fingerprint);
    }
    const bundle = bundlePem(material.authorities);
    if (bundle !== this.bundle) {
      this.bundle = bundle;
      logger.info({ tlsSecret: secretName, authorities: material.authorities.map((a) => a.fingerprint) }, "webhook CA bundle loaded");
      for (const listener of this.bundleListeners) listener(bundle);
    }
  }

  private async read(): Promise<V1Secret | null> {
    try {
      return await this.core.readNamespacedSecret({ name: this.options.secretName, namespace: this.options.namespace });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  private create(contents: TlsSecretContents): Promise<V1Secret> {
    const { namespace, secretName } = this.options;
    return this.core.createNamespacedSecret({
      namespace,
      body: {
        metadata: {
          name: secretName,
          namespace,
          labels: MANAGED_BY,
          annotations: { [AUTHORITY_ADDED_AT_ANNOTATION]: new Date(contents.authorityAddedAt).toISOString() },
        },
        type: "kubernetes.io/tls",
        data: encoded(contents.files),
      },
    });
  }

  /** An update guarded by the resourceVersion we decided on: a 409 if anyone wrote since. */
  private replace(secret: V1Secret, contents: TlsSecretContents): Promise<V1Secret> {
    const { namespace, secretName } = this.options;
    const metadata = secret.metadata ?? {};
    return this.core.replaceNamespacedSecret({
      name: secretName,
      namespace,
      body: {
        ...secret,
        metadata: {
          ...metadata,
          annotations: { ...metadata.annotations, [AUTHORITY_ADDED_AT_ANNOTATION]: new Date(contents.authorityAddedAt).toISOString() },
        },
        data: { ...secret.data, ...encoded(contents.files) },
      },
    });
  }
}

export function observe(secret: V1Secret | null): ObservedSecret {
  if (!secret) return { exists: false };
  const addedAt = Date.parse(secret.metadata?.annotations?.[AUTHORITY_ADDED_AT_ANNOTATION] ?? "");
  return { exists: true, reading: readTlsMaterial(decoded(secret)), authorityAddedAt: Number.isNaN(addedAt) ? undefined : addedAt };
}

function decoded(secret: V1Secret | null): Record<string, string> {
  return Object.fromEntries(Object.entries(secret?.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")]));
}

function encoded(files: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([key, value]) => [key, Buffer.from(value, "utf8").toString("base64")]));
}
