// What can be checked of the image without a container engine: the
// Dockerfile copies files that exist (and that .dockerignore lets through),
// runs as a numeric non-root user, holds the entry points the chart runs,
// and the bundles it ships start with no node_modules at all.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, posix } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/kube.js";
import { findObject, helmTemplate } from "./helm.js";

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: Instruction[];
}

interface Dockerfile {
  /** The ARGs declared before the first FROM, with their defaults: all a FROM may use. */
  readonly baseArgs: ReadonlyMap<string, string>;
  readonly stages: Stage[];
}

function parseDockerfile(text: string): Dockerfile {
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const baseArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword, ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    if (keyword!.toUpperCase() === "FROM") {
      const words = rest.filter((word) => !word.startsWith("--"));
      stages.push({ from: words[0]!, name: words[2], instructions: [] });
    } else if (stages.length === 0 && keyword!.toUpperCase() === "ARG") {
      const [name, value = ""] = args.split("=", 2);
      baseArgs.set(name!, value);
    } else {
      stages.at(-1)?.instructions.push({ keyword: keyword!.toUpperCase(), args });
    }
  }
  return { baseArgs, stages };
}

/** A FROM's image with the build arguments given, else their defaults. */
function baseImage(from: string, buildArgs: Record<string, string> = {}): string {
  return from.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => buildArgs[name] ?? parsed.baseArgs.get(name) ?? "");
}

function instructions(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** COPY's flags, sources and destination. */
function copyParts(args: string): { from?: string; sources: string[]; destination: string } {
  const words = args.split(/\s+/);
  const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
  const paths = words.filter((w) => !w.startsWith("--"));
  return { ...(from ? { from } : {}), sources: paths.slice(0, -1), destination: paths.at(-1)! };
}

/** The .dockerignore forms this repository uses: `*`, `!file` and `!folder/`; the last match wins. */
function includedInContext(path: string, patterns: readonly string[]): boolean {
  let included = true;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    const body = (negated ? pattern.slice(1) : pattern).replace(/\/$/, "");
    const matches = body === "*" || path === body || path.startsWith(`${body}/`);
    if (matches) included = negated;
  }
  return included;
}

const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
const parsed = parseDockerfile(dockerfile);
const stages = parsed.stages;
const runtime = stages.at(-1)!;
const build = stages.find((stage) => stage.name === "build")!;
const ignorePatterns = readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));
const buildWorkdir = instructions(build, "WORKDIR").at(-1)!.args;

/** Files the runtime stage copies from the build stage: their path in the image and in this repository once built. */
function shippedFiles(): { imagePath: string; repoPath: string }[] {
  return instructions(runtime, "COPY").flatMap(({ args }) => {
    const { from, sources, destination } = copyParts(args);
    if (from !== "build") throw new Error(`the runtime stage copies from ${from ?? "the context"}: only the build stage's output belongs there`);
    return sources.map((source) => ({
      imagePath: destination.endsWith("/") ? posix.join(destination, basename(source)) : destination,
      repoPath: join(REPO_ROOT, posix.relative(buildWorkdir, source)),
    }));
  });
}

const scratch = mkdtempSync(join(tmpdir(), "ddcred-image-layout-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the Dockerfile", () => {
  it("builds with Node.js 24 and runs on a Node.js 24 runtime by default, as package.json's engines say", () => {
    const engines = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).engines.node as string;
    expect(engines).toBe(">=24");
    expect(baseImage(build.from)).toMatch(/^node:24[-.]/);
    expect(baseImage(runtime.from)).toMatch(/^gcr\.io\/distroless\/nodejs24-debian12:nonroot$/);
  });

  it("takes both base images as build arguments, so the test bed builds it on local bases", () => {
    expect(build.from).toBe("${BUILD_IMAGE}");
    expect(runtime.from).toBe("${RUNTIME_IMAGE}");
    const local = { BUILD_IMAGE: "localhost/ddcred-build-base:1", RUNTIME_IMAGE: "localhost/ddcred-runtime-base:1" };
    expect([baseImage(build.from, local), baseImage(runtime.from, local)]).toEqual(Object.values(local));
  });

  it("copies into the build only files that exist and that .dockerignore lets into the context", () => {
    const sources = instructions(build, "COPY").flatMap(({ args }) => copyParts(args).sources);
    expect(sources.length).toBeGreaterThan(0);
    const problems = sources
      .map((source) => source.replace(/\/$/, ""))
      .filter((source) => !existsSync(join(REPO_ROOT, source)) || !includedInContext(source, ignorePatterns));
    expect(problems).toEqual([]);
  });

  it("keeps the host's node_modules and dist out of the build context", () => {
    expect(includedInContext("node_modules/esbuild/package.json", ignorePatterns)).toBe(false);
    expect(includedInContext("dist/operator.mjs", ignorePatterns)).toBe(false);
    expect(includedInContext("src/operator/main.ts", ignorePatterns)).toBe(true);
  });

  it("ships only the operator's, the agent's and explain's bundles, which the build produces", () => {
    const files = shippedFiles();
    expect(files.map((f) => f.imagePath).sort()).toEqual(["/app/dist/agent.mjs", "/app/dist/explain.mjs", "/app/dist/operator.mjs"]);
    // The suite's global setup ran scripts/build.mjs, as the build stage does.
    expect(files.filter((f) => !existsSync(f.repoPath)).map((f) => f.repoPath)).toEqual([]);
  });

  it("runs as a numeric non-root user, so runAsNonRoot can verify it", () => {
    const user = instructions(runtime, "USER").at(-1)?.args;
    expect(user).toMatch(/^[1-9][0-9]*:[1-9][0-9]*$/);
  });

  it("starts the operator by default, with node found on the image's PATH", () => {
    const entrypoint = JSON.parse(instructions(runtime, "ENTRYPOINT").at(-1)!.args) as string[];
    const command = JSON.parse(instructions(runtime, "CMD").at(-1)!.args) as string[];
    expect([...entrypoint, ...command]).toEqual(["node", "/app/dist/operator.mjs"]);
    const path = instructions(runtime, "ENV").find((i) => i.args.startsWith("PATH="))?.args ?? "";
    // Where the distroless Node.js images keep node.
    expect(path.split("=")[1]!.split(":")).toContain("/nodejs/bin");
  });
});

describe("the image and the chart", () => {
  it("agree on the operator's and the agent's entry points", async () => {
    const { objects } = await helmTemplate("r", "ddcred-system");
    const container = (findObject(objects, "Deployment") as any).spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.map((v: { name: string; value?: string }) => [v.name, v.value]));
    const shipped = shippedFiles().map((f) => f.imagePath);
    expect(container.command).toEqual(["node", "/app/dist/operator.mjs"]);
    const agentCommand = JSON.parse(env.DDCRED_AGENT_COMMAND) as string[];
    expect(agentCommand[0]).toBe("node");
    expect(agentCommand.at(-1)).toBe("/app/dist/agent.mjs");
    expect(shipped).toContain(container.command[1]);
    expect(shipped).toContain(agentCommand.at(-1));
  });
});

describe("the shipped bundles", () => {
  it.each(["operator.mjs", "agent.mjs", "explain.mjs"])("%s loads with no node_modules anywhere above it and reports its missing configuration", (bundle) => {
    const ancestors = scratch.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/") || "/");
    expect(ancestors.filter((dir) => existsSync(join(dir, "node_modules")))).toEqual([]);
    const dist = join(scratch, "app/dist");
    mkdirSync(dist, { recursive: true });
    for (const file of shippedFiles()) copyFileSync(file.repoPath, join(dist, basename(file.imagePath)));
    const run = spawnSync(process.execPath, [join(dist, bundle)], { cwd: scratch, env: { PATH: process.env.PATH }, encoding: "utf8", timeout: 20_000 });
    // 2 is both programs' "invalid configuration" exit: every import resolved and main ran.
    expect(run.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (package|module)/);
    expect(run.status, run.stderr).toBe(2);
  });
});
