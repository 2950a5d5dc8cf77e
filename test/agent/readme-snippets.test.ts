// The README's code for each official Datadog client is the code the tests
// run: the block between "README: <Language>" and "README: end" in each
// consumer (test/agent/consumers/) appears in the README as one fenced block.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLIENT_LANGUAGES, readmeSnippet } from "../harness/datadog-clients.js";
import { REPO_ROOT } from "../harness/paths.js";

const FENCES = { python: "python", typescript: "ts", go: "go", java: "java" } as const;

describe("the README's Datadog client snippets", () => {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");

  it.each(CLIENT_LANGUAGES.map((language) => [language]))("show exactly what the %s consumer runs", (language) => {
    expect(readme).toContain(["```" + FENCES[language], readmeSnippet(language), "```"].join("\n"));
  });

  it("say that Go's own AWSAuth reads only static AWS_* variables, and what the Rust client lacks", () => {
    expect(readme).toContain("`AWS_SESSION_TOKEN` from the environment (or\na context value) only");
    expect(readme).toMatch(/Rust: `datadog-api-client` \(crates\.io\) authenticates with API and application keys only/);
  });
});
