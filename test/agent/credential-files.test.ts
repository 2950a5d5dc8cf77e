import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../src/agent/delivery/atomic-file.js";
import { renderAwsConfig, renderContainerCredentials, renderProcessCredentials } from "../../src/agent/delivery/credential-files.js";

const credentials = { accessKeyId: "ASIA1", secretAccessKey: "s3cr3t", sessionToken: "t0k3n", assumedRoleArn: "arn:aws:sts::1:assumed-role/app/x" };
const expiresAt = Date.UTC(2025, 0, 1, 12, 0, 0);

describe("credential file contents", () => {
  it("gives app containers an AWS config whose credential_process is a plain cat of the agent's file", () => {
    expect(renderAwsConfig("eu-west-1", "/var/run/ddcred")).toBe(
      "[default]\nregion = eu-west-1\ncredential_process = cat /var/run/ddcred/aws-credentials.json\n",
    );
  });

  it("quotes a credentials directory with a space so the command still splits into cat and one path", () => {
    expect(renderAwsConfig("us-east-1", "/tmp/my dir")).toContain("credential_process = cat '/tmp/my dir/aws-credentials.json'");
  });

  it("writes credential_process output in its Version 1 format", () => {
    expect(JSON.parse(renderProcessCredentials(credentials, expiresAt))).toEqual({
      Version: 1,
      AccessKeyId: "ASIA1",
      SecretAccessKey: "s3cr3t",
      SessionToken: "t0k3n",
      Expiration: "2025-01-01T12:00:00.000Z",
    });
  });

  it("serves the container-credentials format the AWS SDKs read", () => {
    expect(JSON.parse(renderContainerCredentials(credentials, expiresAt, "arn:aws:iam::1:role/app"))).toEqual({
      AccessKeyId: "ASIA1",
      SecretAccessKey: "s3cr3t",
      Token: "t0k3n",
      Expiration: "2025-01-01T12:00:00.000Z",
      RoleArn: "arn:aws:iam::1:role/app",
    });
  });
});

describe("writeFileAtomic", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("writes a read-only file every UID in the pod can read", async () => {
    dir = mkdtempSync(join(tmpdir(), "ddcred-files-"));
    await writeFileAtomic(join(dir, "datadog-token"), "abc");
    expect(readFileSync(join(dir, "datadog-token"), "utf8")).toBe("abc");
    expect(statSync(join(dir, "datadog-token")).mode & 0o777).toBe(0o444);
  });

  it("replaces an existing read-only file and leaves no temporary file behind", async () => {
    dir = mkdtempSync(join(tmpdir(), "ddcred-files-"));
    const path = join(dir, "datadog-token");
    writeFileSync(path, "old");
    chmodSync(path, 0o444);
    await writeFileAtomic(path, "new");
    expect(readFileSync(path, "utf8")).toBe("new");
    expect(readdirSync(dir)).toEqual(["datadog-token"]);
  });

  it("fails without leaving a temporary file when the directory is missing", async () => {
    dir = mkdtempSync(join(tmpdir(), "ddcred-files-"));
    await expect(writeFileAtomic(join(dir, "missing", "datadog-token"), "x")).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
