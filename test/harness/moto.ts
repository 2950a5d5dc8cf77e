// A real AWS STS/IAM emulator for the tests: moto's server with request
// signature checking on. moto lets the first INITIAL_NO_AUTH_ACTION_COUNT
// calls through unsigned; we spend exactly that window creating the base IAM
// user, its key and the roles (test/python/moto_setup.py), so from then on
// every request must carry a valid SigV4 signature, as with real AWS.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, venvBin } from "./paths.js";
import { spawnTied, waitFor } from "./process.js";

export interface AwsAccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface MotoServer {
  readonly url: string;
  readonly accountId: string;
  /** The IAM user's key: the agent's base identity, allowed to assume every role below. */
  readonly baseCredentials: AwsAccessKey;
  /** ARN of a role created at start; `name` as given in options.roles ("name" or "path/name"). */
  roleArn(name: string): string;
  /** moto's output, kept until stop(). */
  readonly logFile: string;
  /** Stops moto and removes its temp dir. */
  stop(): Promise<void>;
}

export interface MotoOptions {
  /** Roles to create, each trusting the base user: "name" or "path/name". Default ["ddcred-test"]. */
  readonly roles?: readonly string[];
  /** Address to listen on; pods on the test bed's node reach the node address. Default 127.0.0.1. */
  readonly host?: string;
  /** More principals every role trusts besides the base user; "{account}" stands for the account ID. */
  readonly trustedPrincipals?: readonly string[];
}

export const DEFAULT_TEST_ROLE = "ddcred-test";
const BASE_USER = "ddcred-base";
const SETUP_CALLS_FIXED = 3; // CreateUser, PutUserPolicy, CreateAccessKey
const SETUP_CALLS_PER_ROLE = 2; // CreateRole, PutRolePolicy

interface SetupResult {
  accountId: string;
  accessKeyId: string;
  secretAccessKey: string;
  roleArns: Record<string, string>;
}

export async function startMoto(options: MotoOptions = {}): Promise<MotoServer> {
  const roles = options.roles ?? [DEFAULT_TEST_ROLE];
  const dir = mkdtempSync(join(tmpdir(), "ddcred-moto-"));
  const logFile = join(dir, "moto.log");
  const setupCalls = SETUP_CALLS_FIXED + SETUP_CALLS_PER_ROLE * roles.length;
  // Port 0: werkzeug binds a free port and prints it, so there is no race for one.
  const host = options.host ?? "127.0.0.1";
  const server = spawnTied("moto", venvBin("moto_server"), ["-H", host, "-p", "0"], {
    logFile,
    env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: String(setupCalls), PYTHONUNBUFFERED: "1" },
  });
  try {
    const url = await waitFor(
      "moto to listen",
      async () => new RegExp(`Running on (http://${host.replaceAll(".", "\\.")}:\\d+)`).exec(readFileSync(logFile, "utf8"))?.[1],
      { process: server, timeoutMs: 30_000 },
    );
    const setup = await createIdentities(url, roles, options.trustedPrincipals ?? []);
    return {
      url,
      accountId: setup.accountId,
      baseCredentials: { accessKeyId: setup.accessKeyId, secretAccessKey: setup.secretAccessKey },
      roleArn(name) {
        const arn = setup.roleArns[name];
        if (arn === undefined) throw new Error(`role ${name} was not created; pass it in startMoto({ roles })`);
        return arn;
      },
      logFile,
      async stop() {
        await server.stop(5_000);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server.stop(1_000);
    throw error; // the log stays in dir for the post-mortem
  }
}

async function createIdentities(url: string, roles: readonly string[], trustedPrincipals: readonly string[]): Promise<SetupResult> {
  const script = join(REPO_ROOT, "test/python/moto_setup.py");
  const { stdout } = await promisify(execFile)(venvBin("python"), [script, url, BASE_USER, ...roles], {
    timeout: 60_000,
    env: { ...process.env, DDCRED_MOTO_EXTRA_TRUST: JSON.stringify(trustedPrincipals) },
  });
  return JSON.parse(stdout) as SetupResult;
}
