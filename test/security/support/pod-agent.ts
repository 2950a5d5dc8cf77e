// Runs dist/agent.mjs with exactly the env the webhook wrote into a pod's
// ddcred-agent container. What differs from a node, as in the demo: the base
// AWS identity comes from env (IRSA or Pod Identity in EKS), the credentials
// volume is a temporary directory, free ports replace 9911/9912, and
// status.podIP is 127.0.0.1.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { AGENT_NODE_FLAGS } from "../../../src/agent/node-flags.js";
import { AGENT_ENV } from "../../../src/shared/agent-config.js";
import { AGENT_CONTAINER_NAME, CREDENTIAL_FILES, CREDENTIALS_MOUNT_PATH, DEFAULT_AGENT_API_PORT, DEFAULT_AGENT_METRICS_PORT } from "../../../src/shared/names.js";
import { AGENT_BUNDLE } from "../../agent/agent-process.js";
import type { MotoServer } from "../../harness/moto.js";
import { freePort, spawnTied, waitFor, type TiedProcess } from "../../harness/process.js";

export interface PodAgent {
  readonly process: TiedProcess;
  readonly apiUrl: string;
  readonly metricsUrl: string;
  /** The first app container's env, localised like the agent's: what the app would see. */
  readonly appEnv: Readonly<Record<string, string>>;
  readFile(name: keyof typeof CREDENTIAL_FILES): string;
  stop(): Promise<void>;
}

export async function startAgentForPod(pod: V1Pod, moto: MotoServer, overrides: Record<string, string> = {}): Promise<PodAgent> {
  const agentContainer = pod.spec?.initContainers?.find((container) => container.name === AGENT_CONTAINER_NAME);
  if (!agentContainer) throw new Error(`pod ${pod.metadata?.name} carries no ${AGENT_CONTAINER_NAME} container`);
  const root = mkdtempSync(join(tmpdir(), "ddcred-pod-agent-"));
  const credentialsDir = join(root, "ddcred");
  const [apiPort, metricsPort] = [await freePort(), await freePort()];
  const localize = (value: string) =>
    value
      .replaceAll(CREDENTIALS_MOUNT_PATH, credentialsDir)
      .replaceAll(`:${DEFAULT_AGENT_API_PORT}`, `:${apiPort}`)
      .replaceAll(`:${DEFAULT_AGENT_METRICS_PORT}`, `:${metricsPort}`);
  const podFields: Record<string, string> = {
    "metadata.name": pod.metadata?.name ?? "",
    "metadata.namespace": pod.metadata?.namespace ?? "",
    "status.podIP": "127.0.0.1",
  };
  const containerEnv = (container: V1Container) =>
    Object.fromEntries((container.env ?? []).map((e) => [e.name, localize(e.value ?? podFields[e.valueFrom?.fieldRef?.fieldPath ?? ""] ?? "")]));
  const env = {
    ...containerEnv(agentContainer),
    [AGENT_ENV.apiPort]: String(apiPort),
    [AGENT_ENV.metricsPort]: String(metricsPort),
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: root,
    AWS_ACCESS_KEY_ID: moto.baseCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: moto.baseCredentials.secretAccessKey,
    AWS_ENDPOINT_URL_STS: moto.url,
    AWS_CONFIG_FILE: join(root, "no-such-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(root, "no-such-aws-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    ...overrides,
  };
  const child = spawnTied("ddcred-agent", process.execPath, [...AGENT_NODE_FLAGS, AGENT_BUNDLE], { env, logFile: join(root, "agent.log") });
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  try {
    await waitFor("the agent to be ready", async () => ((await fetch(`${metricsUrl}/readyz`)).ok ? true : undefined), {
      process: child,
      timeoutMs: 30_000,
      intervalMs: 25,
    });
  } catch (error) {
    await child.stop(2_000);
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const app = pod.spec?.containers[0];
  return {
    process: child,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    metricsUrl,
    appEnv: app ? containerEnv(app) : {},
    readFile: (name) => readFileSync(join(credentialsDir, CREDENTIAL_FILES[name]), "utf8"),
    async stop() {
      await child.stop(5_000);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
