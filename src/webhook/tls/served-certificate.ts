// What both certificate sources (self-managed Secret, cert-manager files)
// share: the certificate being served, waiting for the first one, and
// telling the HTTPS server when it changes.
import type { CertificateSource, ServingCertificate } from "../server.js";

export abstract class ServedCertificate implements CertificateSource {
  protected serving: { readonly certificate: ServingCertificate; readonly fingerprint: string } | undefined;
  private readonly certificateListeners = new Set<(certificate: ServingCertificate) => void>();
  private readonly loadedWaiters = new Set<() => void>();

  loaded(): boolean {
    return this.serving !== undefined;
  }

  /** Resolves once a serving certificate is loaded (false if `timeoutMs` passes first, or on stop). */
  whenLoaded(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (this.serving) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.loadedWaiters.delete(done);
        resolve(this.serving !== undefined);
      };
      const timer = Number.isFinite(timeoutMs) ? setTimeout(done, timeoutMs) : undefined;
      this.loadedWaiters.add(done);
    });
  }

  current(): ServingCertificate {
    if (!this.serving) throw new Error("bug: the serving certificate was asked for before it was loaded");
    return this.serving.certificate;
  }

  onChange(listener: (certificate: ServingCertificate) => void): () => void {
    this.certificateListeners.add(listener);
    return () => this.certificateListeners.delete(listener);
  }

  /** Serves `certificate` from now on: releases whoever waits for the first one and tells the listeners. */
  protected serve(certificate: ServingCertificate, fingerprint: string): void {
    const first = this.serving === undefined;
    this.serving = { certificate, fingerprint };
    if (first) this.releaseWaiters();
    for (const listener of this.certificateListeners) listener(certificate);
  }

  /** Lets whoever waits in whenLoaded() go (with false when nothing was loaded): on stop. */
  protected releaseWaiters(): void {
    for (const waiter of [...this.loadedWaiters]) waiter();
  }
}
