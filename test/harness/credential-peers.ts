// What the agent talks to, started together: moto (STS) and the test Datadog
// token service, whose org maps moto's default role. The agent tests, the
// loopback and leak tests, and the agent benchmarks and drills share it;
// tests whose subject is the org mapping itself start the two on their own.
import { startDatadogService, type DatadogService, type DatadogServiceOptions, type OrgMapping } from "./datadog.js";
import { DEFAULT_TEST_ROLE, startMoto, type MotoServer } from "./moto.js";

/**
 * The org the Datadog service maps the default role into, and the one
 * test/agent/agent-process.ts's agents name. Grants in the API-server tests
 * name kube.ts's TEST_ORG_UUID, a different value.
 */
export const PEERS_ORG_UUID = "0f8f2b4e-6c1a-4d7e-9b3a-2c5d8e1f4a6b";

export interface CredentialPeersOptions extends Omit<DatadogServiceOptions, "stsUrl" | "orgs"> {
  /** The org that maps the default role; default PEERS_ORG_UUID. */
  readonly orgUuid?: string;
  /** Orgs besides that one, e.g. one that maps no role (refusals). */
  readonly moreOrgs?: readonly OrgMapping[];
}

export interface CredentialPeers {
  readonly moto: MotoServer;
  readonly datadog: DatadogService;
  readonly orgUuid: string;
  /** Stops the Datadog service, then moto. */
  stop(): Promise<void>;
}

export async function startCredentialPeers(options: CredentialPeersOptions = {}): Promise<CredentialPeers> {
  const { orgUuid = PEERS_ORG_UUID, moreOrgs = [], ...serviceOptions } = options;
  const moto = await startMoto();
  let datadog: DatadogService;
  try {
    datadog = await startDatadogService({
      ...serviceOptions,
      stsUrl: moto.url,
      orgs: [{ uuid: orgUuid, roleArns: [moto.roleArn(DEFAULT_TEST_ROLE)] }, ...moreOrgs],
    });
  } catch (error) {
    await moto.stop();
    throw error;
  }
  return {
    moto,
    datadog,
    orgUuid,
    async stop() {
      try {
        await datadog.stop();
      } finally {
        await moto.stop();
      }
    },
  };
}
