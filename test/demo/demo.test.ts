// The demo is part of the product: it must keep working, end to end, and say
// what it shows. Runs it as a user would (minus the set-up, done by the suite).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/kube.js";

const run = promisify(execFile);

describe("the demo", () => {
  it("runs end to end: injection, a real consumer, a refresh, metrics, status", async () => {
    const { stdout } = await run(process.execPath, ["scripts/run-ts.mjs", "demo/run.ts"], { cwd: REPO_ROOT, timeout: 170_000, env: { ...process.env, CI: "true" } });
    expect(stdout).toMatch(/"Arn": "arn:aws:sts::\d{12}:assumed-role\/ray-training\//);
    expect(stdout).toContain('"tokens": 1');
    expect(stdout).toMatch(/renewed: sha256:[0-9a-f]{12} .*file rewritten: true/);
    expect(stdout).toContain("the loopback API without the per-pod secret: HTTP 401");
    expect(stdout).toContain("AWS secret key: confirmed");
    expect(stdout).toMatch(/ddcred_credential_expiry_timestamp_seconds\{kind="datadog_token",expiry="reported"\}/);
    expect(stdout).toContain("injectedPods: 1");
    expect(stdout).toMatch(/Done in \d+\.\d s\./);
  }, 180_000);
});
