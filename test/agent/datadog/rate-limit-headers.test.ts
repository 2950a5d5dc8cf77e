// Retry-After and X-RateLimit-Reset ask a client to wait only on a throttle
// (429) or an unavailable server (503). Datadog and the proxies in front of it
// send rate-limit headers on every answer, so on any other status the client
// must not turn them into a delay. A bare server answers with exactly the
// status and headers each test sets.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestDatadogToken } from "../../../src/agent/datadog/client.js";

const ORG = "0f8f2a4e-1c2b-4d3e-9f00-1234567890ab";

describe("rate-limit headers on Datadog answers", () => {
  let server: Server;
  let url: string;
  let answer: { status: number; headers: Record<string, string> } = { status: 200, headers: {} };

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
        res.end(JSON.stringify({ errors: ["answered by the test"] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (typeof address !== "object" || address === null) throw new Error("no address");
    url = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const token = () => requestDatadogToken({ apiUrl: url, proof: "proof", orgUuid: ORG });

  it("reads X-RateLimit-Reset as the delay on a 429 without Retry-After", async () => {
    answer = { status: 429, headers: { "x-ratelimit-limit": "100", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "42" } };
    expect(await token()).toMatchObject({ ok: false, reason: "Throttled", retryAfterMs: 42_000 });
  });

  it("reads Retry-After on a 503", async () => {
    answer = { status: 503, headers: { "retry-after": "9", "x-ratelimit-reset": "42" } };
    expect(await token()).toMatchObject({ ok: false, reason: "ServerError", retryAfterMs: 9_000 });
  });

  it.each([400, 401, 403, 500, 502])("ignores Retry-After and X-RateLimit-Reset on a %i", async (status) => {
    answer = { status, headers: { "retry-after": "600", "x-ratelimit-reset": "3600" } };
    const result = await token();
    expect(result).toMatchObject({ ok: false, status });
    expect(result).not.toHaveProperty("retryAfterMs");
  });
});
