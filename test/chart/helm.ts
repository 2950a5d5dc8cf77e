// Runs the Helm binary the project builds (helm.sh/helm/v3) on the chart,
// and parses what `helm template` renders into plain objects.
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "../harness/kube.js";
import { KUBE_VERSION, toolPaths } from "../harness/tools.js";

export const CHART_DIR = join(REPO_ROOT, "charts/ddcred-operator");

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs helm; resolves with its exit code and output whatever the code.
 * `stdin` feeds `--values -`. Commands that talk to a cluster cache its
 * discovery under `home`: give them a folder the test removes.
 */
export function helm(args: readonly string[], stdin?: string, home?: string): Promise<HelmResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(toolPaths().helm, args, { env: helmEnv(home), stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") }));
    child.stdin.end(stdin ?? "");
  });
}

/** Values for helm, given on stdin: pass `valuesArgs` and `valuesInput(values)` (JSON is YAML). */
export const VALUES_FROM_STDIN = ["--values", "-"] as const;

export function valuesInput(values: object): string {
  return JSON.stringify(values);
}

/**
 * Helm's home, cache, config and data folders, never the user's. Without a
 * cluster (template, lint, package on a local chart) helm writes nothing there.
 */
function helmEnv(home = join(tmpdir(), "ddcred-helm-home")): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
  };
}

/**
 * The plain build of helm reports Kubernetes v1.20 as the default
 * capabilities (the version is an ldflag of Helm's own Makefile), which the
 * chart's kubeVersion refuses: say which version we test against.
 */
export const KUBE_VERSION_ARGS = ["--kube-version", KUBE_VERSION] as const;

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [key: string]: unknown;
}

export interface Rendered {
  readonly objects: KubeObject[];
  /** The raw output, for byte comparisons. */
  readonly text: string;
}

const rendered = new Map<string, Promise<Rendered>>();

/** `helm template` of the chart; the same arguments render once per test file (treat the result as read-only). */
export function helmTemplate(release: string, namespace: string, values: object = {}): Promise<Rendered> {
  const key = JSON.stringify([release, namespace, values]);
  let result = rendered.get(key);
  if (!result) {
    result = renderChart(release, namespace, values);
    rendered.set(key, result);
  }
  return result;
}

async function renderChart(release: string, namespace: string, values: object): Promise<Rendered> {
  const result = await helm(["template", release, CHART_DIR, "--namespace", namespace, ...KUBE_VERSION_ARGS, ...VALUES_FROM_STDIN], valuesInput(values));
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}):\n${result.stderr}`);
  return { objects: parseObjects(result.stdout), text: result.stdout };
}

export function parseObjects(text: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${document.errors[0]!.message}`);
    const value = document.toJS() as KubeObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

export function findObject(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, rendered ${found.length}`);
  return found[0]!;
}

/** Helm's documents, each with the template it came from ("# Source: ddcred-operator/templates/x.yaml"). */
export function documentsBySource(text: string): { source: string; body: string }[] {
  return text
    .split(/^---\n/m)
    .filter((chunk) => chunk.trim() !== "")
    .map((chunk) => {
      const match = /^# Source: (.+)\n/.exec(chunk);
      if (!match) throw new Error(`a rendered document has no Source line: ${chunk.slice(0, 80)}`);
      return { source: match[1]!, body: chunk.slice(match[0].length) };
    });
}
