// What injected pods on the node talk to, started together: moto (STS and
// IAM), the web-identity front pods call as their STS endpoint, the Datadog
// token service, all listening on the node address; and the chart installed
// with agents pointed at them. Tests, benchmarks and the demo share it.
import { TEST_ORG_UUID } from "../kube.js";
import { startMoto, type MotoServer } from "../moto.js";
import { startDatadogService, type DatadogService } from "../datadog.js";
import { installChart, type ChartRelease } from "./chart-release.js";
import { startWebIdentitySts, type WebIdentitySts } from "./web-identity-sts.js";
import type { NodeClusterInfo } from "./node-cluster.js";

export interface CredentialStack {
  readonly moto: MotoServer;
  readonly sts: WebIdentitySts;
  readonly datadog: DatadogService;
  readonly release: ChartRelease;
  readonly orgUuid: string;
  /** Plain data for other processes (vitest workers). */
  info(): CredentialStackInfo;
  stop(): Promise<void>;
}

/** The run's shared stack as test files see it. */
export interface CredentialStackInfo {
  readonly stsUrl: string;
  readonly stsControlUrl: string;
  readonly datadogUrl: string;
  readonly accountId: string;
  readonly orgUuid: string;
  /** Role ARN by the name given in the options ("path/name"). */
  readonly roleArns: Readonly<Record<string, string>>;
  readonly release: { readonly name: string; readonly namespace: string; readonly image: string };
}

/**
 * The roles of the run's shared stack (test/harness/global-setup.ts starts it
 * with the node): grants name the datadog/* ones; IRSA pods assume the irsa/*
 * ones with their session names, and the granted roles trust those sessions.
 */
export const SHARED_STACK_OPTIONS = {
  grantedRoles: ["datadog/node-reporter", "datadog/ray", "datadog/drill"],
  baseRoles: [
    { role: "irsa/reporter-base", sessionName: "reporter-irsa" },
    { role: "irsa/ray-base", sessionName: "ray-irsa" },
  ],
  // The webhook drills break releases of their own (drill; drill-rotation, webhook-drills.ts's
  // ROTATION_SCOPE): this one leaves their namespaces to them.
  values: { webhook: { namespaceSelectorExpressions: [{ key: "ddcred-test/release", operator: "NotIn", values: ["drill", "drill-rotation"] }] } },
} as const satisfies CredentialStackOptions;

export interface CredentialStackOptions {
  /** Roles grants may name (Datadog maps each to the org); "name" or "path/name". */
  readonly grantedRoles: readonly string[];
  /**
   * Roles pods assume with their ServiceAccount token (IRSA), by name, each
   * with the session name its pods set (AWS_ROLE_SESSION_NAME): the granted
   * roles trust exactly those sessions. Trust ServiceAccounts to assume them
   * with stack.sts.trust().
   */
  readonly baseRoles?: readonly { readonly role: string; readonly sessionName: string }[];
  /** More chart values. */
  readonly values?: object;
}

export async function startCredentialStack(node: NodeClusterInfo, options: CredentialStackOptions): Promise<CredentialStack> {
  const stopping: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of stopping.reverse()) await step().catch((error: unknown) => console.error(String(error)));
  };
  try {
    const baseRoles = options.baseRoles ?? [];
    const roles = [...options.grantedRoles, ...baseRoles.map((base) => base.role)];
    const moto = await startMoto({
      roles,
      trustedPrincipals: baseRoles.map(({ role, sessionName }) => `arn:aws:sts::{account}:assumed-role/${role.split("/").pop()}/${sessionName}`),
    });
    stopping.push(() => moto.stop());
    const sts = await startWebIdentitySts({ moto, cluster: node, host: node.nodeAddress });
    stopping.push(() => sts.stop());
    const datadog = await startDatadogService({
      host: node.nodeAddress,
      // Proofs are signed for the STS endpoint the agents call: the front.
      stsUrl: sts.url,
      orgs: [{ uuid: TEST_ORG_UUID, roleArns: options.grantedRoles.map((role) => moto.roleArn(role)) }],
    });
    stopping.push(() => datadog.stop());
    const release = await installChart(node, { stsUrl: sts.url, datadogApiUrl: datadog.url, ...(options.values ? { values: options.values } : {}) });
    stopping.push(() => release.uninstall());
    const info = (): CredentialStackInfo => ({
      stsUrl: sts.url,
      stsControlUrl: sts.controlUrl,
      datadogUrl: datadog.url,
      accountId: moto.accountId,
      orgUuid: TEST_ORG_UUID,
      roleArns: Object.fromEntries(roles.map((role) => [role, moto.roleArn(role)])),
      release: { name: release.name, namespace: release.namespace, image: release.image },
    });
    return { moto, sts, datadog, release, orgUuid: TEST_ORG_UUID, info, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
