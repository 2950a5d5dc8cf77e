// The repository explains itself: every Markdown document that code, the
// chart, docs, tests or benchmarks name is a file in this repository, so no
// comment sends a reader to a document they cannot open.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./harness/kube.js";

const PRODUCT_PATHS = ["src", "charts", "docs", "test", "bench", "webhook", "demo", "scripts", "tools", "crds", "README.md", "CHANGELOG.md", "Dockerfile"];
const MARKDOWN_NAME = /[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b/g;

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((entry) => (entry === "node_modules" || entry.startsWith(".") ? [] : filesUnder(join(path, entry))));
}

function markdownFilesInRepository(): Set<string> {
  return new Set(filesUnder(REPO_ROOT).filter((file) => file.endsWith(".md")).map((file) => basename(file)));
}

describe("the repository", () => {
  it("names no Markdown document that is not one of its own files", () => {
    const known = markdownFilesInRepository();
    const missing: string[] = [];
    for (const file of PRODUCT_PATHS.flatMap((path) => filesUnder(join(REPO_ROOT, path)))) {
      const text = readFileSync(file, "utf8");
      for (const name of text.match(MARKDOWN_NAME) ?? []) {
        const found = existsSync(join(dirname(file), name)) || existsSync(join(REPO_ROOT, name)) || known.has(basename(name));
        if (!found) missing.push(`${relative(REPO_ROOT, file)}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
