// Starts dist/agent.mjs as a process the way a pod runs it, against the
// test peers, and reads what it delivers (files, loopback API, metrics).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_NODE_FLAGS } from "../../src/agent/node-flags.js";
import { AGENT_ENV } from "../../src/shared/agent-config.js";
import { CREDENTIAL_FILES } from "../../src/shared/names.js";
import { PEERS_ORG_UUID, type CredentialPeers } from "../harness/credential-peers.js";
import type { MotoServer } from "../harness/moto.js";
import { REPO_ROOT } from "../harness/paths.js";
import { freePort, spawnTied, waitFor, type TiedProcess } from "../harness/process.js";

export const AGENT_BUNDLE = join(REPO_ROOT, "dist/agent.mjs");

export function buildBundles(): void {
  execFileSync(process.execPath, [join(REPO_ROOT, "scripts/build.mjs")], { cwd: REPO_ROOT, stdio: "inherit" });
}

export interface AgentProcessOptions {
  readonly moto: MotoServer;
  readonly datadogUrl: string;
  /** Where AssumeRole goes (a fault proxy in front of moto); default moto itself. */
  readonly stsUrl?: string;
  readonly role?: string;
  readonly sessionDurationSeconds?: number;
  readonly exposeToWorkload?: boolean;
  readonly apiToken?: boolean;
  readonly intakeKey?: boolean;
  readonly podName?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export interface AgentProcess {
  readonly process: TiedProcess;
  readonly credentialsDir: string;
  readonly apiUrl: string;
  readonly metricsUrl: string;
  readonly env: Readonly<Record<string, string>>;
  file(name: keyof typeof CREDENTIAL_FILES): string;
  readFile(name: keyof typeof CREDENTIAL_FILES): string;
  secret(): string;
  /** GET on the loopback API, with the secret unless told otherwise. */
  get(path: string, authorization?: string | null): Promise<{ status: number; body: string }>;
  metrics(): Promise<string>;
  waitReady(): Promise<void>;
  stop(): Promise<void>;
}

/** The agent's env as the webhook would write it, with the test peers' addresses. */
export async function agentEnv(options: AgentProcessOptions, credentialsDir: string): Promise<Record<string, string>> {
  const { moto } = options;
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: credentialsDir,
    // The base identity, from the env provider of the SDK's standard chain.
    AWS_ACCESS_KEY_ID: moto.baseCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: moto.baseCredentials.secretAccessKey,
    AWS_ENDPOINT_URL_STS: options.stsUrl ?? moto.url,
    AWS_CONFIG_FILE: join(credentialsDir, "no-such-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(credentialsDir, "no-such-aws-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    [AGENT_ENV.grantName]: "test-grant",
    [AGENT_ENV.podName]: options.podName ?? "app-7d4b9c-x2x9q",
    [AGENT_ENV.podNamespace]: "team-a",
    [AGENT_ENV.roleArn]: moto.roleArn(options.role ?? "ddcred-test"),
    [AGENT_ENV.region]: "us-east-1",
    [AGENT_ENV.sessionDurationSeconds]: String(options.sessionDurationSeconds ?? 3600),
    [AGENT_ENV.exposeToWorkload]: String(options.exposeToWorkload ?? true),
    [AGENT_ENV.orgUuid]: PEERS_ORG_UUID,
    [AGENT_ENV.site]: "datadoghq.com",
    [AGENT_ENV.apiToken]: String(options.apiToken ?? true),
    [AGENT_ENV.intakeKey]: String(options.intakeKey ?? false),
    [AGENT_ENV.apiUrl]: options.datadogUrl,
    [AGENT_ENV.apiPort]: String(await freePort()),
    [AGENT_ENV.metricsPort]: String(await freePort()),
    [AGENT_ENV.metricsAddress]: "127.0.0.1",
    [AGENT_ENV.credentialsDir]: credentialsDir,
    [AGENT_ENV.logLevel]: "info",
    ...options.env,
  };
}

export async function startAgentProcess(options: AgentProcessOptions): Promise<AgentProcess> {
  const root = mkdtempSync(join(tmpdir(), "ddcred-agent-"));
  const credentialsDir = join(root, "ddcred");
  const env = await agentEnv(options, credentialsDir);
  // With the flags the agent container runs with, so the tests run what pods run.
  const child = spawnTied("ddcred-agent", process.execPath, [...AGENT_NODE_FLAGS, AGENT_BUNDLE], { env, logFile: join(root, "agent.log") });
  const apiUrl = `http://127.0.0.1:${env[AGENT_ENV.apiPort]}`;
  const metricsUrl = `http://127.0.0.1:${env[AGENT_ENV.metricsPort]}`;
  const file = (name: keyof typeof CREDENTIAL_FILES) => join(credentialsDir, CREDENTIAL_FILES[name]);
  const readFile = (name: keyof typeof CREDENTIAL_FILES) => readFileSync(file(name), "utf8");
  const agent: AgentProcess = {
    process: child,
    credentialsDir,
    apiUrl,
    metricsUrl,
    env,
    file,
    readFile,
    secret: () => readFile("agentToken"),
    async get(path, authorization) {
      const headers: Record<string, string> = {};
      const auth = authorization === undefined ? agent.secret() : authorization;
      if (auth !== null) headers.authorization = auth;
      const response = await fetch(`${apiUrl}${path}`, { headers });
      return { status: response.status, body: await response.text() };
    },
    metrics: async () => (await fetch(`${metricsUrl}/metrics`)).text(),
    waitReady: async () => {
      await waitFor(
        "the agent to be ready",
        async () => ((await fetch(`${metricsUrl}/readyz`)).status === 200 ? true : undefined),
        { process: child, timeoutMs: 30_000, intervalMs: 25 },
      );
    },
    async stop() {
      await child.stop(5_000);
      rmSync(root, { recursive: true, force: true });
    },
  };
  return agent;
}

/** An agent against the peers, once it holds every credential it is granted; stopped again if it never does. */
export async function startReadyAgent(
  peers: Pick<CredentialPeers, "moto" | "datadog">,
  options: Omit<AgentProcessOptions, "moto" | "datadogUrl"> = {},
): Promise<AgentProcess> {
  const agent = await startAgentProcess({ moto: peers.moto, datadogUrl: peers.datadog.url, ...options });
  try {
    await agent.waitReady();
  } catch (error) {
    await agent.stop();
    throw error;
  }
  return agent;
}

/** One sample's value from Prometheus text, e.g. metricValue(text, 'ddcred_credential_refresh_total{kind="aws",result="success"}'). */
export function metricValue(metrics: string, series: string): number | undefined {
  const line = metrics.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
