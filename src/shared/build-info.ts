// Which build of ddcred a process is: the package version and the source
// revision, stamped into the bundles by scripts/build.mjs (esbuild `define`).
// Run from source (tests, `scripts/run-ts.mjs`) there is no stamp, and the
// version reads "dev". Exported as ddcred_build_info{version,revision} = 1 by
// the operator and every agent, so a dashboard shows which versions run
// side by side during an upgrade.
import { Gauge, type Registry } from "prom-client";

export interface BuildInfo {
  readonly version: string;
  readonly revision: string;
}

declare const DDCRED_VERSION: string | undefined;
declare const DDCRED_REVISION: string | undefined;

export const BUILD_INFO: BuildInfo = {
  version: typeof DDCRED_VERSION === "string" ? DDCRED_VERSION : "dev",
  revision: typeof DDCRED_REVISION === "string" ? DDCRED_REVISION : "unknown",
};

export function registerBuildInfo(registry: Registry, build: BuildInfo = BUILD_INFO): void {
  new Gauge({
    name: "ddcred_build_info",
    help: "Always 1: the version and source revision of the ddcred build this process runs.",
    labelNames: ["version", "revision"] as const,
    registers: [registry],
  }).set({ version: build.version, revision: build.revision }, 1);
}
