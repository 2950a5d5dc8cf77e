// The programs that call the Datadog API with each official client and the
// token in DD_BEARER_TOKEN_FILE (test/agent/consumers/), as commands: Python
// from the venv, Go, Java and TypeScript from what scripts/build-consumers.sh
// built under $DDCRED_CACHE/consumers/<language>-<key>. The key is the one
// that script computes: a hash of every file in the consumer's folder.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, venvBin } from "./paths.js";
import { toolPaths } from "./tools.js";

export const CONSUMERS = join(REPO_ROOT, "test/agent/consumers");

export type ClientLanguage = "python" | "typescript" | "go" | "java";
export const CLIENT_LANGUAGES: readonly ClientLanguage[] = ["python", "typescript", "go", "java"];

/** The consumer's source with the README's snippet in it, between "README: <Language>" and "README: end". */
const CONSUMER_SOURCES: Record<ClientLanguage, string> = {
  python: join(CONSUMERS, "datadog_bearer.py"),
  typescript: join(CONSUMERS, "typescript/datadog-bearer.ts"),
  go: join(CONSUMERS, "go/main.go"),
  java: join(CONSUMERS, "java/DatadogBearer.java"),
};

function consumerKey(folder: string): string {
  const hash = createHash("sha256");
  for (const file of readdirSync(folder).sort()) hash.update(`${file}\n`).update(readFileSync(join(folder, file)));
  return hash.digest("hex").slice(0, 12);
}

function built(language: Exclude<ClientLanguage, "python">, marker: string): string {
  const dir = join(toolPaths().cache, "consumers", `${language}-${consumerKey(join(CONSUMERS, language))}`);
  if (!existsSync(join(dir, marker))) throw new Error(`${dir} is missing: run scripts/build-consumers.sh (scripts/setup.sh runs it)`);
  return dir;
}

/** The command that runs `language`'s consumer: append HOST and SECONDS. */
export function consumerCommand(language: ClientLanguage): { command: string; args: string[] } {
  switch (language) {
    case "python":
      return { command: venvBin("python"), args: [CONSUMER_SOURCES.python] };
    case "typescript": {
      const dir = built("typescript", ".complete");
      return { command: process.execPath, args: [join(dir, "datadog-bearer.ts")] };
    }
    case "go":
      return { command: join(built("go", "datadog-bearer"), "datadog-bearer"), args: [] };
    case "java": {
      const dir = built("java", ".complete");
      const classpath = `${join(dir, "classes")}:${readFileSync(join(dir, "classpath.txt"), "utf8").trim()}`;
      return { command: "java", args: ["-cp", classpath, "DatadogBearer"] };
    }
  }
}

/** The lines between "README: <Language>" and "README: end" in the consumer's source, as the README shows them. */
export function readmeSnippet(language: ClientLanguage): string {
  const lines = readFileSync(CONSUMER_SOURCES[language], "utf8").split("\n");
  const title = language === "typescript" ? "TypeScript" : language[0]!.toUpperCase() + language.slice(1);
  const start = lines.findIndex((line) => line.trim().endsWith(`README: ${title}`));
  const end = lines.findIndex((line, i) => i > start && line.trim().endsWith("README: end"));
  if (start < 0 || end < 0) throw new Error(`${CONSUMER_SOURCES[language]} has no README: ${title} ... README: end block`);
  return dedent(lines.slice(start + 1, end)).join("\n").trim();
}

/** The lines without the indentation every non-blank one shares (a Java method inside its class). */
function dedent(lines: readonly string[]): string[] {
  const indents = lines.filter((line) => line.trim() !== "").map((line) => /^ */.exec(line)![0].length);
  const common = Math.min(...indents);
  return lines.map((line) => (line.trim() === "" ? "" : line.slice(common)));
}

/**
 * The Datadog sites an official client knows, read from the client itself:
 * Python's server variables, the TypeScript client's typed `site`, the Go
 * client's EnumValues in the module the Go consumer was built from.
 */
export function officialClientSites(language: Exclude<ClientLanguage, "java">): string[] {
  switch (language) {
    case "python": {
      const script =
        "import json\nfrom datadog_api_client import Configuration\n" +
        "print(json.dumps(Configuration().get_host_settings()[0]['variables']['site']['enum_values']))";
      return JSON.parse(execFileSync(venvBin("python"), ["-c", script], { encoding: "utf8" })) as string[];
    }
    case "typescript": {
      const servers = join(built("typescript", ".complete"), "node_modules/@datadog/datadog-api-client/dist/packages/datadog-api-client-common/servers.d.ts");
      return quotedStrings(/site: ((?:"[^"]+"\s*\|?\s*)+);/.exec(readFileSync(servers, "utf8"))?.[1]);
    }
    case "go": {
      const version = /github\.com\/DataDog\/datadog-api-client-go\/v2 (v\S+)/.exec(readFileSync(join(CONSUMERS, "go/go.mod"), "utf8"))?.[1];
      const modules = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
      const configuration = join(modules, `github.com/!data!dog/datadog-api-client-go/v2@${version}/api/datadog/configuration.go`);
      return quotedStrings(/"site": \{[^}]*?EnumValues: \[\]string\{([^}]*)\}/.exec(readFileSync(configuration, "utf8"))?.[1]);
    }
  }
}

function quotedStrings(text: string | undefined): string[] {
  if (text === undefined) throw new Error("the client's site list was not found where it used to be");
  return [...text.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}
