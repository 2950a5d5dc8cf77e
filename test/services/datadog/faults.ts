// The fault currently injected into the token endpoints, if any, counting
// down the requests it still applies to.
import type { Fault, FaultEndpoint } from "./control-types.js";

const DEFAULT_ENDPOINTS: readonly FaultEndpoint[] = ["delegated-token", "intake-key"];
const ENDPOINTS: readonly unknown[] = [...DEFAULT_ENDPOINTS, "users"];

export class FaultInjector {
  private fault: Fault | undefined;
  private remaining = Infinity;
  applied = 0;

  set(fault: Fault | undefined): void {
    this.fault = fault;
    this.remaining = fault?.times ?? Infinity;
  }

  /** The fault for this request, consuming one of its uses. */
  take(endpoint: FaultEndpoint): Fault | undefined {
    const fault = this.fault;
    const endpoints = fault?.endpoints ?? DEFAULT_ENDPOINTS;
    if (fault === undefined || !endpoints.includes(endpoint)) return undefined;
    this.remaining -= 1;
    if (this.remaining <= 0) this.fault = undefined;
    this.applied += 1;
    return fault;
  }
}

export function validateFault(raw: unknown): Fault | string {
  if (typeof raw !== "object" || raw === null) return "a fault is a JSON object";
  const fault = raw as Record<string, unknown>;
  const known = new Set(["endpoints", "status", "body", "retryAfter", "delayMs", "times"]);
  const unknown = Object.keys(fault).filter((k) => !known.has(k));
  if (unknown.length > 0) return `unknown fault fields: ${unknown.join(", ")}`;
  if (fault.status !== undefined && !(Number.isInteger(fault.status) && (fault.status as number) >= 200 && (fault.status as number) <= 599)) {
    return "status must be an HTTP status code";
  }
  if (fault.delayMs !== undefined && !(Number.isInteger(fault.delayMs) && (fault.delayMs as number) >= 0)) return "delayMs must be a whole number";
  if (fault.times !== undefined && !(Number.isInteger(fault.times) && (fault.times as number) > 0)) return "times must be a positive whole number";
  if (fault.body !== undefined && typeof fault.body !== "string") return "body must be a string";
  if (fault.retryAfter !== undefined && typeof fault.retryAfter !== "string") return "retryAfter must be a string";
  const endpoints = fault.endpoints;
  if (endpoints !== undefined && !(Array.isArray(endpoints) && endpoints.every((e) => ENDPOINTS.includes(e)))) {
    return 'endpoints must be a list of "delegated-token", "intake-key" and "users"';
  }
  return fault as Fault;
}

export type { FaultEndpoint };
