// Metrics about the webhook's certificates: when they expire (alert well
// before), how often this replica loaded a new one, and the Secret writes it
// made (rotations), by reason and result.
import { Counter, Gauge, type Registry } from "prom-client";
import type { RotationReason } from "./rotation-plan.js";
import type { CertificateFacts } from "./tls-material.js";

export type RotationResult = "written" | "conflict" | "failed";

export interface CertificateMetrics {
  /** The serving certificate (and the CA that signs new ones, when known) this replica now serves. */
  loaded(serving: CertificateFacts, authority: CertificateFacts | undefined): void;
  rotation(reason: RotationReason, result: RotationResult): void;
}

export function certificateMetrics(registry: Registry): CertificateMetrics {
  const expiry = new Gauge({
    name: "ddcred_webhook_certificate_expiry_timestamp_seconds",
    help: "When the webhook's certificate expires (unix seconds): certificate=serving (what this replica serves) or ca (the CA that signs new serving certificates).",
    labelNames: ["certificate"] as const,
    registers: [registry],
  });
  const loads = new Counter({
    name: "ddcred_webhook_certificate_loads_total",
    help: "Times this replica started serving a new certificate.",
    registers: [registry],
  });
  const rotations = new Counter({
    name: "ddcred_webhook_certificate_rotations_total",
    help: "Writes of the webhook TLS Secret by this replica: reason (why), result (written, conflict: another replica wrote first, failed).",
    labelNames: ["reason", "result"] as const,
    registers: [registry],
  });
  return {
    loaded(serving, authority) {
      expiry.set({ certificate: "serving" }, serving.notAfter / 1000);
      if (authority) expiry.set({ certificate: "ca" }, authority.notAfter / 1000);
      loads.inc();
    },
    rotation(reason, result) {
      rotations.inc({ reason, result });
    },
  };
}
