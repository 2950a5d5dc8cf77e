// Kubernetes label selectors, evaluated the way the API machinery does
// (k8s.io/apimachinery/pkg/labels), plus the syntax checks the CRD schema
// cannot express.
import type { GrantSpecPodSelector } from "./grant.generated.js";

export type Labels = Readonly<Record<string, string>>;

export function selectorMatches(selector: GrantSpecPodSelector, labels: Labels | undefined): boolean {
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (have[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(have, key);
    const value = have[key];
    switch (operator) {
      case "In":
        if (!present || !values.includes(value as string)) return false;
        break;
      case "NotIn":
        if (present && values.includes(value as string)) return false;
        break;
      case "Exists":
        if (!present) return false;
        break;
      case "DoesNotExist":
        if (present) return false;
        break;
    }
  }
  return true;
}

/** The selector in kubectl's string form, for messages and list calls. */
export function formatSelector(selector: GrantSpecPodSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    if (operator === "Exists") parts.push(key);
    else if (operator === "DoesNotExist") parts.push(`!${key}`);
    else parts.push(`${key} ${operator.toLowerCase()} (${values.join(",")})`);
  }
  return parts.length === 0 ? "<every pod>" : parts.join(",");
}

const NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const name = slash < 0 ? key : key.slice(slash + 1);
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  if (!NAME_PART.test(name)) {
    return `label key ${JSON.stringify(key)}: the name part must be 1-63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `label key ${JSON.stringify(key)}: the prefix must be a DNS subdomain such as example.com`;
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    return `label value ${JSON.stringify(value)} must be at most 63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Problems with a selector that the API server accepted but that can never match as meant. */
export function selectorProblems(selector: GrantSpecPodSelector): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) problems.push(`spec.podSelector.matchLabels: ${problem}`);
  }
  for (const [index, { key, values = [] }] of (selector.matchExpressions ?? []).entries()) {
    const problem = labelKeyProblem(key) ?? values.map(labelValueProblem).find(Boolean);
    if (problem) problems.push(`spec.podSelector.matchExpressions[${index}]: ${problem}`);
  }
  return problems;
}
