// Where the Go-built peers live: the same paths scripts/lib.sh computes
// (scripts/test.sh exports them; a direct vitest run falls back to these).
import { homedir } from "node:os";
import { join } from "node:path";

export const KUBE_VERSION = "1.35.4";
export const HELM_VERSION = "3.22.0";

export function toolPaths() {
  const cache = process.env.DDCRED_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "ddcred");
  const bin = join(cache, "bin");
  return {
    cache,
    /** The multi-call Kubernetes binary: `kube <component> [flags]` (tools/kube). */
    kube: process.env.KUBE ?? join(bin, `kube-v${KUBE_VERSION}`),
    helm: process.env.HELM ?? join(bin, `helm-v${HELM_VERSION}`),
    kuberayOperator: process.env.KUBERAY_OPERATOR ?? join(bin, "kuberay-operator-v1.5.0"),
    vegeta: process.env.VEGETA ?? join(bin, "vegeta-v12.13.0"),
  };
}
