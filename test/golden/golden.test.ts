// Golden files, as amazon-eks-pod-identity-webhook keeps them: each
// test/golden/<case>.pod.yaml is a pod as the API server hands it to the
// webhook (defaulted, with the service-account volume), and
// <case>.expected.yaml beside it holds the exact outcome, warnings and JSON
// patch. The grants of the pods' namespace are in grants.yaml.
// Regenerate after a deliberate change with UPDATE_GOLDEN=1, then review the diff.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import type { Grant } from "../../src/shared/grant.js";
import { mutatePod, type MutationResult } from "../../src/webhook/mutate-pod.js";
import type { Pod } from "../../src/webhook/pod.js";
import { applyPatch, deepFreeze, settings } from "../webhook/support/fixtures.js";

const folder = import.meta.dirname;
const grants = parseAllDocuments(readFileSync(join(folder, "grants.yaml"), "utf8")).map((doc) => doc.toJS() as Grant);
const cases = readdirSync(folder)
  .filter((file) => file.endsWith(".pod.yaml"))
  .map((file) => file.slice(0, -".pod.yaml".length))
  .sort();

function mutate(pod: Pod): MutationResult {
  return mutatePod({ pod, namespace: pod.metadata?.namespace ?? "", grants, settings });
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
