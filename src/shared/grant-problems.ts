// What is wrong with a grant that the CRD schema could not reject. The
// controller reports these as Ready=False; the webhook never injects from a
// grant that has any.
import type { Grant } from "./grant.js";
import { selectorProblems } from "./selector.js";

export interface GrantProblem {
  /** CamelCase machine reason, used as the Ready condition's reason. */
  readonly reason: "InvalidSelector";
  /** What is wrong and what to do, for a person. */
  readonly message: string;
}

// Informer caches hand out the same object until it changes, so the
// admission path pays for validation once per grant version.
const memo = new WeakMap<Grant, readonly GrantProblem[]>();

export function grantProblems(grant: Grant): readonly GrantProblem[] {
  let problems = memo.get(grant);
  if (!problems) {
    problems = selectorProblems(grant.spec.podSelector ?? {}).map((message) => ({
      reason: "InvalidSelector" as const,
      message: `${message}; fix spec.podSelector`,
    }));
    memo.set(grant, problems);
  }
  return problems;
}
