// The agent's probe server on the pod IP, which anyone in the cluster can
// reach: /readyz answers a bare status and nothing about why the agent is
// not ready (role ARN, org, endpoint URLs, errors from STS or Datadog); the
// reason goes to the agent's log, once per change rather than once per probe.
import { once } from "node:events";
import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createProbeServerHandler } from "../../src/agent/delivery/probe-server.js";
import type { Readiness } from "../../src/agent/delivery/http-reply.js";

const REASON =
  "AssumeRole arn:aws:iam::123456789012:role/ray/etl-datadog failed: AccessDenied; Datadog https://api.datadoghq.eu/api/v2/delegated-token for org 0f8f6a0e-3c1b-4c4e-9d7a-2b5e8f1c9a01 answered 401";

let server: Server | undefined;

afterEach(async () => {
  server?.close();
  server = undefined;
});

async function serve(readiness: () => Readiness, onNotReady: (message: string) => void): Promise<number> {
  server = createServer(createProbeServerHandler(new Registry(), readiness, onNotReady));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

function readyz(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path: "/readyz", agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    }).on("error", reject);
  });
}

describe("the agent's /readyz on the pod IP", () => {
  it("answers a bare 503 while not ready, and hands the reason to the log once per change", async () => {
    let state: Readiness = { ready: false, message: REASON };
    const logged: string[] = [];
    const port = await serve(() => state, (message) => logged.push(message));

    for (let probe = 0; probe < 3; probe++) expect(await readyz(port)).toEqual({ status: 503, body: "not ready\n" });
    expect(logged).toEqual([REASON]);

    state = { ready: false, message: "starting" };
    await readyz(port);
    state = { ready: true, message: "" };
    expect(await readyz(port)).toEqual({ status: 200, body: "ready\n" });
    expect(logged).toEqual([REASON, "starting"]);
  });
});
