// cert-manager mode: the serving certificate is a Secret cert-manager keeps,
// mounted as files (tls.crt, tls.key, ca.crt). The kubelet replaces them all
// at once by swapping the ..data symlink, which fs.watch on the directory
// sees; a slow poll covers filesystems where watching does not work. A
// half-written or mismatched pair is never served: the previous one stays.
// caBundle is cert-manager's cainjector's job here, never ours.
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../shared/logger.js";
import { ServedCertificate } from "./served-certificate.js";
import type { CertificateMetrics } from "./certificate-metrics.js";
import { readAuthorities, readServingPair, TLS_FILES } from "./tls-material.js";

export interface FileCertificatesOptions {
  readonly directory: string;
  readonly logger: Logger;
  readonly metrics: CertificateMetrics;
  readonly pollIntervalMs?: number;
  /** Quiet time after a change before reading: the kubelet's swap comes as a burst of events. */
  readonly settleMs?: number;
}

export class FileCertificates extends ServedCertificate {
  private lastProblem: string | undefined;
  private watchProblemReported = false;
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();
  private stopped = false;
  constructor(private readonly options: FileCertificatesOptions) {
    super();
  }

  start(): void {
    this.stopped = false;
    this.poll = setInterval(() => this.refresh(), this.options.pollIntervalMs ?? 10_000);
    this.poll.unref();
    this.refresh();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.settle);
    await this.reading;
    this.releaseWaiters();
  }


  /** Watches the directory if it can; until then (e.g. not mounted yet) every poll tries again. */
  private watchDirectory(): void {
    const unwatchable = (error: Error) => {
      if (!this.watchProblemReported) {
        this.options.logger.warn({ directory: this.options.directory, error: error.message }, "cannot watch the certificate directory; polling it");
      }
      this.watchProblemReported = true;
      this.watcher?.close();
      this.watcher = undefined;
    };
    try {
      this.watcher = watch(this.options.directory, { persistent: false }, () => {
        clearTimeout(this.settle);
        this.settle = setTimeout(() => this.refresh(), this.options.settleMs ?? 200);
      });
      this.watcher.on("error", unwatchable);
    } catch (error) {
      unwatchable(error as Error);
    }
  }

  /** Reads one at a time: a read that starts while one runs would only repeat it. */
  private refresh(): void {
    if (this.stopped) return;
    if (!this.watcher) this.watchDirectory();
    this.reading = this.reading.then(() => this.readFiles());
  }

  private async readFiles(): Promise<void> {
    const { directory, logger, metrics } = this.options;
    const [certificatePem, privateKeyPem, caPem] = await Promise.all(
      [TLS_FILES.certificate, TLS_FILES.privateKey, TLS_FILES.caBundle].map((file) => readFile(join(directory, file), "utf8").catch(() => undefined)),
    );
    const pair = readServingPair(certificatePem, privateKeyPem);
    if (!pair.ok) {
      const text = `${pair.problem.reason}: ${pair.problem.message}`;
      if (text !== this.lastProblem) {
        const consequence = this.serving ? "still serving the previous certificate" : "not serving until they are usable";
        logger.warn({ directory, reason: pair.problem.reason }, `serving certificate files unusable (${pair.problem.message}); ${consequence}`);
      }
      this.lastProblem = text;
      return;
    }
    this.lastProblem = undefined;
    const facts = pair.value.facts;
    if (this.serving?.fingerprint === facts.fingerprint && this.serving.certificate.key === facts.privateKeyPem) return;
    const first = !this.loaded();
    const authorities = readAuthorities(caPem);
    metrics.loaded(facts, authorities.ok ? authorities.value[0] : undefined);
    logger.info(
      { directory, fingerprint: facts.fingerprint, notAfter: new Date(facts.notAfter).toISOString() },
      first ? "webhook serving certificate loaded from files" : "webhook serving certificate reloaded from files",
    );
    this.serve({ cert: facts.certificatePem, key: facts.privateKeyPem }, facts.fingerprint);
  }
}
