// One list of Datadog sites: the grant CRD's enum (DATADOG_SITES is generated
// from it). The policy CRD, the agent, the README and the official clients'
// own lists (Python, TypeScript, Go, read from the installed clients) must
// agree with it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { datadogApiUrl, parseAgentConfig } from "../../src/shared/agent-config.js";
import { DATADOG_SITES } from "../../src/shared/grant.generated.js";
import { officialClientSites } from "../harness/datadog-clients.js";
import { REPO_ROOT } from "../harness/paths.js";

/** Datadog's staging site: in no official client's list, but a site Datadog runs. */
const STAGING_SITE = "datad0g.com";

function policyAllowedSites(): { enum: string[]; maxItems: number } {
  const crd = parse(readFileSync(join(REPO_ROOT, "crds/ddcred.io_datadogcredentialpolicies.yaml"), "utf8"));
  const version = crd.spec.versions.find((v: { storage: boolean }) => v.storage);
  const allowedSites = version.schema.openAPIV3Schema.properties.spec.properties.allowedSites;
  return { enum: allowedSites.items.enum, maxItems: allowedSites.maxItems };
}

describe("the Datadog sites", () => {
  it.each(["python", "typescript", "go"] as const)("are the official %s client's sites and the staging site, no more and no fewer", (language) => {
    expect([...DATADOG_SITES].sort()).toEqual([...new Set([...officialClientSites(language), STAGING_SITE])].sort());
  });

  it("are the sites a policy may allow, all of them at once", () => {
    const { enum: sites, maxItems } = policyAllowedSites();
    expect(sites).toEqual([...DATADOG_SITES]);
    expect(maxItems).toBe(DATADOG_SITES.length);
  });

  it("are the sites the README lists", () => {
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    const paragraph = /\*\*Datadog sites\.\*\*([\s\S]*?)\n\n/.exec(readme)?.[1] ?? "";
    const listed = [...paragraph.matchAll(/`([a-z0-9.-]+\.(?:com|eu))`/g)].map((m) => m[1]);
    expect(listed).toEqual([...DATADOG_SITES]);
  });

  it.each(DATADOG_SITES.map((site) => [site]))("are each accepted by the agent, which exchanges at https://api.%s", (site) => {
    const result = parseAgentConfig({
      DDCRED_GRANT_NAME: "g",
      DDCRED_POD_NAME: "p",
      DDCRED_POD_NAMESPACE: "n",
      DDCRED_AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/r",
      DDCRED_AWS_REGION: "us-east-1",
      DDCRED_DATADOG_ORG_UUID: "0f8fad5b-d9cb-469f-a165-70867728950e",
      DDCRED_DATADOG_SITE: site,
    });
    expect(result).toMatchObject({ ok: true, config: { datadog: { site, apiUrl: datadogApiUrl(site) } } });
    expect(datadogApiUrl(site)).toBe(`https://api.${site}`);
  });
});
