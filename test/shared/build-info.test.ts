// ddcred_build_info: which version and revision a process runs, on the
// operator's and every agent's /metrics.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createAgentMetrics } from "../../src/agent/metrics.js";
import { BUILD_INFO, registerBuildInfo } from "../../src/shared/build-info.js";
import { REPO_ROOT } from "../harness/kube.js";

describe("ddcred_build_info", () => {
  it("reports the version and revision it is given, with the value 1", async () => {
    const registry = new Registry();
    registerBuildInfo(registry, { version: "0.2.0", revision: "0123456789ab" });
    expect(await registry.metrics()).toContain('ddcred_build_info{version="0.2.0",revision="0123456789ab"} 1');
  });

  it("reads dev and unknown when run from source, without the bundle's stamp", () => {
    expect(BUILD_INFO).toEqual({ version: "dev", revision: "unknown" });
  });

  it("is on the agent's metrics", async () => {
    expect(await createAgentMetrics().registry.metrics()).toContain('ddcred_build_info{version="dev",revision="unknown"} 1');
  });

  it.each(["operator.mjs", "agent.mjs"])("is stamped into the %s bundle with package.json's version", (bundle) => {
    // The suite's global setup ran scripts/build.mjs, as the image's build stage does.
    const version = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).version as string;
    expect(readFileSync(join(REPO_ROOT, "dist", bundle), "utf8")).toMatch(new RegExp(`BUILD_INFO=\\{version:"${version.replace(/\./g, "\\.")}",revision:"[^"]+"\\}`));
  });
});
