// The test Datadog service is faithful: proofs built by the official
// datadog-api-client (Python), which target real AWS STS hostnames, are
// verified here (routed to the emulator with their signed Host intact), and
// the client's own API calls work with what the service issues.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestDatadogToken, requestIntakeKey } from "../../../src/agent/datadog/client.js";
import { buildDelegatedProof } from "../../../src/agent/datadog/proof.js";
import { assumeRole, awsEnv, type SessionCredentials } from "../../harness/aws.js";
import { startCredentialPeers, type CredentialPeers } from "../../harness/credential-peers.js";
import type { DatadogService } from "../../harness/datadog.js";
import { runDatadogPythonClient } from "../../harness/datadog-python.js";
import { decodeProofParts } from "./proof-crafting.js";

const ORG = "0f8f2a4e-1c2b-4d3e-9f00-1234567890ab";

describe("datadog-api-client (Python) against the test Datadog service", () => {
  let peers: CredentialPeers;
  let datadog: DatadogService;
  let session: SessionCredentials;

  beforeAll(async () => {
    peers = await startCredentialPeers({ orgUuid: ORG });
    datadog = peers.datadog;
    session = await assumeRole(peers.moto, "ddcred-test", "python-app");
  });
  afterAll(async () => {
    await peers?.stop();
  });

  const pythonProof = async (...regionArgs: string[]) => {
    const result = await runDatadogPythonClient(["proof", "--org", ORG, ...regionArgs], awsEnv(session));
    return result.output.proof as string;
  };

  it("accepts the proof the Python client signs for the global STS endpoint", async () => {
    const proof = await pythonProof();
    expect(decodeProofParts(proof).url).toBe("https://sts.amazonaws.com");
    expect(await requestDatadogToken({ apiUrl: datadog.url, proof, orgUuid: ORG })).toMatchObject({ ok: true });
  });

  it("accepts the proof the Python client signs for a regional STS endpoint", async () => {
    const proof = await pythonProof("--region", "eu-west-1");
    expect(decodeProofParts(proof).url).toBe("https://sts.eu-west-1.amazonaws.com");
    expect(await requestDatadogToken({ apiUrl: datadog.url, proof, orgUuid: ORG })).toMatchObject({ ok: true });
  });

  it("lets UsersApi.list_users through with a token from the agent's proof in Configuration(access_token=...)", async () => {
    const proof = await buildDelegatedProof({ credentials: session, region: "us-east-1", orgUuid: ORG });
    const token = await requestDatadogToken({ apiUrl: datadog.url, proof, orgUuid: ORG });
    if (!token.ok) throw new Error(token.message);
    const result = await runDatadogPythonClient(["list-users", "--host", datadog.url, "--token", token.value]);
    expect(result).toMatchObject({ exitCode: 0, output: { handles: [`arn:aws:sts::${peers.moto.accountId}:assumed-role/ddcred-test/python-app`] } });
  });

  it("refuses UsersApi.list_users with a token the service never issued", async () => {
    const result = await runDatadogPythonClient(["list-users", "--host", datadog.url, "--token", "ddt_made-up"]);
    expect(result).toMatchObject({ exitCode: 1, output: { error: "UnauthorizedException", status: 401 } });
  });

  it("completes the Python client's own delegated flow (AWSAuth from AWS_* env, then list_users)", async () => {
    const issuedBefore = (await datadog.stats()).tokensIssued;
    const result = await runDatadogPythonClient(["list-users-delegated", "--host", datadog.url, "--org", ORG], awsEnv(session));
    expect(result).toMatchObject({ exitCode: 0, output: { handles: [expect.stringContaining("assumed-role/ddcred-test/python-app")] } });
    expect((await datadog.stats()).tokensIssued).toBe(issuedBefore + 1);
  });

  it("lets AuthenticationApi.validate through with an intake key from the agent's proof", async () => {
    const proof = await buildDelegatedProof({ credentials: session, region: "us-east-1", orgUuid: ORG });
    const key = await requestIntakeKey({ apiUrl: datadog.url, proof, orgUuid: ORG });
    if (!key.ok) throw new Error(key.message);
    const result = await runDatadogPythonClient(["validate", "--host", datadog.url, "--api-key", key.value]);
    expect(result).toMatchObject({ exitCode: 0, output: { valid: true } });
  });
});
