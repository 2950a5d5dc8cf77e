// Golden files, as amazon-eks-pod-identity-webhook keeps them: each
// test/golden/<case>.pod.yaml is a pod as the API server hands it to the
// webhook (defaulted, with the service-account volume), and
// <case>.expected.yaml beside it holds the exact outcome, warnings and JSON
// patch. The grants of the pods' namespace are in grants.yaml; the owners of
// Ray pods, as the webhook's caches hold them, in ray-owners.yaml.
// Regenerate after a deliberate change with UPDATE_GOLDEN=1, then review the diff.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import type { Grant } from "../../src/shared/grant.js";
import { NO_RAY_WORKLOAD, rayPodOwner, rayWorkloadOf, type OwnerRecord, type RayWorkload } from "../../src/shared/ray-workload.js";
import { mutatePod, type MutationResult } from "../../src/webhook/mutate-pod.js";
import type { Pod } from "../../src/webhook/pod.js";
import { applyPatch, deepFreeze, settings } from "../webhook/support/fixtures.js";

const folder = import.meta.dirname;
const grants = parseAllDocuments(readFileSync(join(folder, "grants.yaml"), "utf8")).map((doc) => doc.toJS() as Grant);
const cases = readdirSync(folder)
  .filter((file) => file.endsWith(".pod.yaml"))
  .map((file) => file.slice(0, -".pod.yaml".length))
  .sort();

const rayOwners = parse(readFileSync(join(folder, "ray-owners.yaml"), "utf8")) as (OwnerRecord & { kind: string })[];

/** The pod's Ray workload, resolved from ray-owners.yaml as the webhook resolves it from its caches. */
function rayWorkload(pod: Pod): RayWorkload {
  const owner = rayPodOwner(pod);
  if (!owner) return NO_RAY_WORKLOAD;
  return rayWorkloadOf(owner, rayOwners.find((record) => record.kind === owner.kind && record.name === owner.name));
}

function mutate(pod: Pod): MutationResult {
  return mutatePod({ pod, namespace: pod.metadata?.namespace ?? "", grants, settings, rayWorkload: rayWorkload(pod) });
}

describe.each(cases)("golden pod %s", (name) => {
  const pod = deepFreeze(parse(readFileSync(join(folder, `${name}.pod.yaml`), "utf8")) as Pod);
  const expectedFile = join(folder, `${name}.expected.yaml`);
  const result = mutate(pod);

  it("gets exactly the expected outcome, warnings and patch", () => {
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(expectedFile, stringify(result, { lineWidth: 0 }));
    expect(result).toEqual(parse(readFileSync(expectedFile, "utf8")));
  });

  it("gets a patch that applies cleanly and that a second admission leaves alone", () => {
    const admitted = applyPatch(pod, result.patch);
    expect(mutate(admitted).patch).toEqual([]);
  });
});
