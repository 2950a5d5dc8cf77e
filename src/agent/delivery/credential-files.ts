// What the agent writes into the credentials volume, as pure renderers, and
// the writer that keeps those files current.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { CREDENTIAL_FILES } from "../../shared/names.js";
import type { AwsSessionCredentials } from "../credentials.js";
import { writeFileAtomic } from "./atomic-file.js";

/**
 * The shared AWS config for app containers. `cat` of a file the agent keeps
 * fresh works in images with only a POSIX shell and coreutils (no node, curl
 * or python), and runs in a few milliseconds. The path is the same in the
 * agent and the app containers (the volume is mounted at one path in both).
 */
export function renderAwsConfig(region: string, credentialsDir: string): string {
  const processFile = join(credentialsDir, CREDENTIAL_FILES.awsProcessCredentials);
  return ["[default]", `region = ${region}`, `credential_process = cat ${quoteForCredentialProcess(processFile)}`, ""].join("\n");
}

/** botocore splits credential_process like a POSIX shell and the JS SDK runs it in one: quote only what needs it. */
function quoteForCredentialProcess(path: string): string {
  return /^[\w./@%+=:,-]+$/.test(path) ? path : `'${path.replaceAll("'", `'"'"'`)}'`;
}

/** The credential_process output format (Version 1). */
export function renderProcessCredentials(credentials: AwsSessionCredentials, expiresAt: number): string {
  return JSON.stringify({
    Version: 1,
    AccessKeyId: credentials.accessKeyId,
    SecretAccessKey: credentials.secretAccessKey,
    SessionToken: credentials.sessionToken,
    Expiration: new Date(expiresAt).toISOString(),
  });
}

/** The container-credentials provider format (AWS_CONTAINER_CREDENTIALS_FULL_URI), as ECS and EKS Pod Identity serve it. */
export function renderContainerCredentials(credentials: AwsSessionCredentials, expiresAt: number, roleArn: string): string {
  return JSON.stringify({
    AccessKeyId: credentials.accessKeyId,
    SecretAccessKey: credentials.secretAccessKey,
    Token: credentials.sessionToken,
    Expiration: new Date(expiresAt).toISOString(),
    RoleArn: roleArn,
  });
}

export class CredentialFiles {
  constructor(readonly dir: string) {}

  path(name: keyof typeof CREDENTIAL_FILES): string {
    return join(this.dir, CREDENTIAL_FILES[name]);
  }

  createDirectory(): Promise<string | undefined> {
    return mkdir(this.dir, { recursive: true });
  }

  /** The files that do not change while the agent runs, or their removal when AWS is not exposed. */
  async writeStaticFiles(exposeAws: boolean, region: string): Promise<void> {
    if (exposeAws) {
      await writeFileAtomic(this.path("awsConfig"), renderAwsConfig(region, this.dir));
    } else {
      // A restarted agent whose grant no longer exposes AWS leaves nothing behind.
      await rm(this.path("awsConfig"), { force: true });
      await rm(this.path("awsProcessCredentials"), { force: true });
    }
  }

  writeAgentToken(secret: string): Promise<void> {
    return writeFileAtomic(this.path("agentToken"), secret);
  }

  writeAwsCredentials(credentials: AwsSessionCredentials, expiresAt: number): Promise<void> {
    return writeFileAtomic(this.path("awsProcessCredentials"), renderProcessCredentials(credentials, expiresAt));
  }

  writeDatadogToken(token: string): Promise<void> {
    return writeFileAtomic(this.path("datadogToken"), token);
  }

  writeDatadogIntakeKey(apiKey: string): Promise<void> {
    return writeFileAtomic(this.path("datadogIntakeKey"), apiKey);
  }
}
