// Shared test values: the settings a chart install would give, grants built
// the way the API server stores them, an in-memory grant cache, and a real
// JSON Patch implementation to apply what the webhook returns.
import jsonpatch from "fast-json-patch";
import type { Grant, GrantSpec } from "../../../src/shared/grant.js";
import type { GrantCache } from "../../../src/webhook/grant-cache.js";
import type { JsonPatchOperation } from "../../../src/webhook/json-patch.js";
import type { Pod } from "../../../src/webhook/pod.js";
import { injectionSettings, type InjectionSettings } from "../../../src/webhook/settings.js";

export const settings: InjectionSettings = injectionSettings(
  { agentImage: "ghcr.io/ddcred/ddcred-operator:0.1.0", operatorNamespace: "ddcred-system" },
  { agentCommand: ["node", "/app/dist/agent.mjs"] },
);

export const ROLE_ARN = "arn:aws:iam::123456789012:role/ray/datadog-reader";
export const ORG_UUID = "0f8f6a0e-3c1b-4c4e-9d7a-2b5e8f1c9a01";

export interface GrantOptions {
  readonly namespace?: string;
  readonly generation?: number;
  readonly spec?: Partial<Omit<GrantSpec, "aws" | "datadog">> & {
    readonly aws?: Partial<GrantSpec["aws"]>;
    readonly datadog?: Partial<GrantSpec["datadog"]>;
  };
  readonly deleting?: boolean;
}

export function grant(name: string, options: GrantOptions = {}): Grant {
  const { aws, datadog, ...rest } = options.spec ?? {};
  return {
    apiVersion: "ddcred.io/v1alpha1",
    kind: "DatadogCredentialGrant",
    metadata: {
      name,
      namespace: options.namespace ?? "ray-jobs",
      uid: `uid-${name}`,
      generation: options.generation ?? 1,
      ...(options.deleting ? { deletionTimestamp: "2025-01-01T00:00:00Z" } : {}),
    },
    spec: {
      podSelector: {},
      ...rest,
      aws: { roleArn: ROLE_ARN, ...aws },
      datadog: { orgUuid: ORG_UUID, ...datadog },
    },
  };
}

/** The informer cache as tests need it: fixed grants, synced or not. */
export class StaticGrantCache implements GrantCache {
  synced: boolean;
  constructor(
    private readonly grants: readonly Grant[],
    options: { synced?: boolean } = {},
  ) {
    this.synced = options.synced ?? true;
  }
  grantsInNamespace(namespace: string): readonly Grant[] {
    return this.grants.filter((g) => g.metadata.namespace === namespace);
  }
  hasSynced(): boolean {
    return this.synced;
  }
  async waitForSync(): Promise<boolean> {
    return this.synced;
  }
}

/** Applies the webhook's patch with fast-json-patch, validating every operation. */
export function applyPatch(pod: Pod, patch: readonly JsonPatchOperation[]): Pod {
  return jsonpatch.applyPatch(structuredClone(pod), patch as jsonpatch.Operation[], true, false).newDocument;
}

/** Freezes a value all the way down, so a mutation that edits its input in place throws. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
