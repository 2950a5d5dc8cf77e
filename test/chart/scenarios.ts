// The value sets every chart test renders: the defaults, every option at once,
// and the combinations that cannot go together with it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { CHART_DIR } from "./helm.js";

export interface Scenario {
  readonly name: string;
  readonly values: Record<string, unknown>;
}

const everyOption = parse(readFileSync(new URL("values/every-option.yaml", import.meta.url), "utf8")) as Record<string, unknown>;

export const SCENARIOS: readonly Scenario[] = [
  { name: "the default values", values: {} },
  { name: "every option set", values: everyOption },
  {
    name: "cert-manager with the chart's own CA",
    values: { webhook: { tls: { mode: "cert-manager" } } },
  },
  {
    name: "self-managed TLS with short-lived certificates, reached by an IP URL",
    values: {
      webhook: { url: "https://10.1.2.3:9443/", tls: { selfManaged: { certificateValiditySeconds: 3600, caValiditySeconds: 86400 } } },
    },
  },
  {
    name: "the webhook alone: no controller, no leader election, one replica, no spreading, no disruption budget",
    values: {
      controller: { enabled: false },
      leaderElection: { enabled: false },
      replicaCount: 1,
      topologySpread: { acrossNodes: false, acrossZones: false },
      podDisruptionBudget: { enabled: false },
    },
  },
  {
    name: "the controller alone, with CRDs, ServiceAccount and RBAC managed outside the chart",
    values: {
      webhook: { enabled: false },
      crds: { install: false },
      serviceAccount: { create: false, name: "ddcred-operator-existing" },
      rbac: { create: false },
      // null removes the default, so that minAvailable can be used.
      podDisruptionBudget: { minAvailable: 1, maxUnavailable: null },
    },
  },
];

export function chartDefaults(): Record<string, unknown> {
  return parse(readFileSync(join(CHART_DIR, "values.yaml"), "utf8")) as Record<string, unknown>;
}
