// The webhook's Prometheus metrics: admissions by result and how long each took.
import { Counter, Histogram, type Registry } from "prom-client";
import { ADMISSION_RESULTS, type AdmissionResult } from "./admission-handler.js";

export interface AdmissionMetrics {
  observe(result: AdmissionResult, durationSeconds: number): void;
}

export function admissionMetrics(registry: Registry): AdmissionMetrics {
  const requests = new Counter({
    name: "ddcred_admission_requests_total",
    help: "Pod admission requests by result (injected, converged, unchanged, skipped, refused, not_ready, bad_request, error).",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "ddcred_admission_duration_seconds",
    help: "Time from receiving an admission request to sending its response.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // Every series from the start, so rate() and alerts see zeros rather than gaps.
  for (const result of ADMISSION_RESULTS) requests.inc({ result }, 0);
  return {
    observe(result, durationSeconds) {
      requests.inc({ result });
      duration.observe(durationSeconds);
    },
  };
}
