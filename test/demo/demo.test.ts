// The demo is part of the product: it must keep working, end to end, and say
// what it shows. Runs it as a user would (minus the set-up, done by the suite).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/kube.js";
import { nodeCluster } from "../harness/node/pods.js";

const run = promisify(execFile);

const { node, stack, skip } = nodeCluster();

describe.skipIf(skip !== undefined)(`the demo on a real node${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("runs end to end: the chart, a RayCluster the kubelet runs with agents, the Ray container's credentials, a refresh, metrics, status", async () => {
    // One node runs per host: the demo uses the test run's node and chart.
    const env = { ...process.env, CI: "true", DDCRED_DEMO_NODE: JSON.stringify({ node, stack }) };
    const { stdout } = await run(process.execPath, ["scripts/run-ts.mjs", "demo/node.ts"], { cwd: REPO_ROOT, timeout: 290_000, env });
    expect(stdout).toMatch(/ddcred-node\s+Ready/);
    expect(stdout).toMatch(/training-head-\S+\s+2\/2\s+Running/);
    expect(stdout).toContain("ddcred-agent | ray-head");
    expect(stdout).toMatch(/\{"ray": "head", "datadogToken": true, "awsArn": "arn:aws:sts::\d{12}:assumed-role\/ray\//);
    expect(stdout).toMatch(/Datadog API, as this job: arn:aws:sts::\d{12}:assumed-role\/ray\//);
    expect(stdout).toMatch(/AWS, as this job: arn:aws:sts::\d{12}:assumed-role\/ray\//);
    expect(stdout).toMatch(/Job 'raysubmit_[0-9a-f]+' succeeded/);
    expect(stdout).toContain("ready: every granted credential is held");
    expect(stdout).toMatch(/\(renewed: true\)/);
    expect(stdout).toMatch(/ddcred_credential_expiry_timestamp_seconds\{kind="datadog_token",expiry="reported"\}/);
    expect(stdout).toContain("injectedPods: 2");
    expect(stdout).toMatch(/Done in \d+\.\d s\./);
  }, 300_000);
});

describe("the demo on an API server alone", () => {
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
