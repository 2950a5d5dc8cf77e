// /_test/: how tests steer the service. Never part of what Datadog serves.
//   GET    /_test/stats   counters (ServiceStats)
//   PUT    /_test/fault   inject a Fault into the token endpoints; DELETE clears it
//   PUT    /_test/ttl     {tokenTtlSeconds?, intakeKeyTtlSeconds?}: tokens issued from now on; how often intake keys rotate
//   PUT    /_test/orgs    [{uuid, roleArns}] replaces the org mappings
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServiceStats, Ttls } from "./control-types.js";
import { validateFault } from "./faults.js";
import { readBody, sendJson } from "./http-io.js";
import type { OrgMapping } from "./identities.js";
import type { ServiceState } from "./service.js";

export const CONTROL_PREFIX = "/_test/";

export async function handleControl(req: IncomingMessage, res: ServerResponse, path: string, state: ServiceState): Promise<void> {
  const key = `${req.method} ${path.slice(CONTROL_PREFIX.length)}`;
  if (key === "GET stats") return sendJson(res, 200, stats(state));
  if (key === "DELETE fault") {
    state.faults.set(undefined);
    return sendJson(res, 200, { ok: true });
  }
  const body = await readJson(req);
  if (body === undefined) return sendJson(res, 400, { error: "the body must be JSON" });
  if (key === "PUT fault") {
    const fault = validateFault(body);
    if (typeof fault === "string") return sendJson(res, 400, { error: fault });
    state.faults.set(fault);
    return sendJson(res, 200, { ok: true });
  }
  if (key === "PUT ttl") {
    const ttls = body as Ttls;
    for (const value of [ttls.tokenTtlSeconds, ttls.intakeKeyTtlSeconds]) {
      if (value !== undefined && !(typeof value === "number" && value > 0)) return sendJson(res, 400, { error: "TTLs are positive numbers of seconds" });
    }
    state.tokenTtlSeconds = ttls.tokenTtlSeconds ?? state.tokenTtlSeconds;
    state.intakeKeyTtlSeconds = ttls.intakeKeyTtlSeconds ?? state.intakeKeyTtlSeconds;
    return sendJson(res, 200, { ok: true });
  }
  if (key === "PUT orgs") {
    const orgs = parseOrgs(body);
    if (orgs === undefined) return sendJson(res, 400, { error: "orgs are [{uuid: string, orgId?: integer, roleArns: string[]}]" });
    state.orgs = orgs;
    return sendJson(res, 200, { ok: true });
  }
  sendJson(res, 404, { error: `no control route ${req.method} ${path}` });
}

export function parseOrgs(raw: unknown): OrgMapping[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const valid = raw.every(
    (o) =>
      typeof o?.uuid === "string" &&
      (o.orgId === undefined || Number.isSafeInteger(o.orgId)) &&
      Array.isArray(o.roleArns) &&
      o.roleArns.every((a: unknown) => typeof a === "string"),
  );
  return valid ? raw.map((o) => ({ uuid: o.uuid, ...(o.orgId === undefined ? {} : { orgId: o.orgId }), roleArns: [...o.roleArns] })) : undefined;
}

function stats(state: ServiceState): ServiceStats {
  return {
    ...state.counters,
    rejected: { ...state.rejected },
    recentRejections: [...state.recentRejections],
    faultsApplied: state.faults.applied,
    tokenTtlSeconds: state.tokenTtlSeconds,
    intakeKeyTtlSeconds: state.intakeKeyTtlSeconds,
    orgs: state.orgs,
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  try {
    return JSON.parse(await readBody(req));
  } catch {
    return undefined;
  }
}
