// The agent's loopback API as an attacker inside or beside the pod meets it:
// another container of the pod (same network namespace, no volume), an SSRF
// in the app (controls the URL, never the headers), a process probing the
// pod IP. Only a request carrying the per-pod secret in its Authorization
// header gets a credential; the probe/metrics server has no credential route;
// the API is bound to 127.0.0.1 alone. The real agent process runs against
// moto and the Datadog token service.
import { request } from "node:http";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_ENV } from "../../src/shared/agent-config.js";
import { AGENT_PATHS } from "../../src/shared/names.js";
import { generateAgentSecret } from "../../src/agent/delivery/auth.js";
import { startCredentialPeers, type CredentialPeers } from "../harness/credential-peers.js";
import { startReadyAgent, type AgentProcess } from "../agent/agent-process.js";

const CREDENTIAL_PATHS = [AGENT_PATHS.awsCredentials, AGENT_PATHS.datadogToken, AGENT_PATHS.datadogIntakeKey];

let peers: CredentialPeers;
let agent: AgentProcess;
let apiPort: number;
let metricsPort: number;

interface RawReply {
  readonly status: number;
  readonly body: string;
}

/** A request with exactly this path and these headers: no URL normalisation, no default headers beyond Host. */
function rawRequest(port: number, path: string, headers: Record<string, string> = {}, method = "GET", host = "127.0.0.1"): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const call = request({ host, port, path, method, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    call.on("error", reject);
    call.end();
  });
}

function connectionRefused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2_000, () => socket.destroy(new Error("timeout")));
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

/** Every credential the agent holds right now, to make sure none appears in a refusal. */
function heldCredentials(): string[] {
  const aws = JSON.parse(agent.readFile("awsProcessCredentials")) as Record<string, string>;
  return [agent.readFile("datadogToken"), agent.readFile("datadogIntakeKey"), aws.SecretAccessKey!, aws.SessionToken!];
}

function expectRefusedWithoutCredential(reply: RawReply, what: string): void {
  expect(reply.status, what).toBe(401);
  for (const credential of heldCredentials()) expect(reply.body, what).not.toContain(credential);
}

beforeAll(async () => {
  peers = await startCredentialPeers();
  agent = await startReadyAgent(peers, { intakeKey: true });
  apiPort = Number(agent.env[AGENT_ENV.apiPort]);
  metricsPort = Number(agent.env[AGENT_ENV.metricsPort]);
});

afterAll(async () => {
  await agent?.stop();
  await peers?.stop();
});

describe("the loopback API", () => {
  it("serves every credential route to a request carrying the per-pod secret (the baseline for every refusal below)", async () => {
    for (const path of CREDENTIAL_PATHS) {
      const reply = await rawRequest(apiPort, path, { authorization: agent.secret() });
      expect(reply.status, path).toBe(200);
    }
  });

  it("refuses every credential route to a request with no Authorization header, as an SSRF that controls only the URL sends it", async () => {
    for (const path of CREDENTIAL_PATHS) {
      expectRefusedWithoutCredential(await rawRequest(apiPort, path), `GET ${path}`);
      expectRefusedWithoutCredential(await rawRequest(apiPort, path, {}, "HEAD"), `HEAD ${path}`);
      // Through fetch too, the way an app's HTTP client follows a URL it was handed.
      const fetched = await fetch(`http://127.0.0.1:${apiPort}${path}`, { redirect: "follow" });
      expectRefusedWithoutCredential({ status: fetched.status, body: await fetched.text() }, `fetch ${path}`);
    }
  });

  it("refuses a wrong secret, one of the wrong length, and the right one under another scheme", async () => {
    const secret = agent.secret();
    const wrong = [
      generateAgentSecret(),
      secret.slice(0, -1),
      `${secret}A`,
      secret.slice(0, 16),
      `${secret}${secret}`,
      `Bearer ${generateAgentSecret()}`,
      `Basic ${Buffer.from(`:${secret}`).toString("base64")}`,
      `Basic ${Buffer.from(`${secret}:`).toString("base64")}`,
    ];
    for (const authorization of wrong) {
      for (const path of CREDENTIAL_PATHS) expectRefusedWithoutCredential(await rawRequest(apiPort, path, { authorization }), `${path} with ${authorization.slice(0, 12)}…`);
    }
  });

  it("refuses the secret anywhere but the Authorization header: query string, cookie, other headers", async () => {
    const secret = agent.secret();
    for (const path of CREDENTIAL_PATHS) {
      for (const query of [`token=${secret}`, `authorization=${secret}`, `Authorization=${encodeURIComponent(`Bearer ${secret}`)}`]) {
        expectRefusedWithoutCredential(await rawRequest(apiPort, `${path}?${query}`), `${path}?${query.split("=")[0]}`);
      }
      for (const header of ["cookie", "x-aws-ec2-metadata-token", "proxy-authorization", "x-authorization"]) {
        expectRefusedWithoutCredential(await rawRequest(apiPort, path, { [header]: secret }), `${path} with ${header}`);
      }
    }
  });

  it("hands out nothing on spellings of the credential paths without the secret", async () => {
    const variants = ["/v1/datadog-token/", "//v1/datadog-token", "/v1/./datadog-token", "/V1/DATADOG-TOKEN", "/v1%2Fdatadog-token", "/v1/datadog-token%00", "/v1/aws-credentials#x"];
    for (const path of variants) {
      const reply = await rawRequest(apiPort, path);
      expect(reply.status, path).not.toBe(200);
      for (const credential of heldCredentials()) expect(reply.body, path).not.toContain(credential);
    }
  });

  it("listens on 127.0.0.1 only: another loopback address and the host's own addresses are refused", async () => {
    const hostAddresses = Object.values(networkInterfaces())
      .flat()
      .filter((address) => address && address.family === "IPv4" && !address.internal)
      .map((address) => address!.address);
    for (const host of ["127.0.0.2", ...hostAddresses]) expect(await connectionRefused(host, apiPort), host).toBe(true);
    expect(await connectionRefused("127.0.0.1", apiPort)).toBe(false);
  });
});

describe("the probe and metrics server (on the pod IP in a pod)", () => {
  it("has no credential route, with or without the secret", async () => {
    for (const path of CREDENTIAL_PATHS) {
      for (const headers of [{}, { authorization: agent.secret() }] as Record<string, string>[]) {
        const reply = await rawRequest(metricsPort, path, headers);
        expect(reply.status, path).toBe(404);
        for (const credential of heldCredentials()) expect(reply.body).not.toContain(credential);
      }
    }
    expect((await rawRequest(metricsPort, AGENT_PATHS.readyz)).status).toBe(200);
  });

  it("never shows the secret an attacker put in a URL, in its metrics or the agent's log", async () => {
    const secret = agent.secret();
    await rawRequest(apiPort, `/v1/datadog-token?token=${secret}`);
    await rawRequest(apiPort, `/${secret}`);
    const metrics = (await rawRequest(metricsPort, AGENT_PATHS.metrics)).body;
    expect(metrics).toMatch(/ddcred_agent_requests_total\{path="other",code="404"\} [1-9]/);
    expect(metrics).not.toContain(secret);
    expect(agent.process.log()).not.toContain(secret);
  });
});
