// Which runs start the test bed's node: only those whose file filters select
// a file that needs it (test/node/, the demo test), so `./scripts/test.sh
// test/webhook` stays fast and needs no root.
import { describe, expect, it } from "vitest";
import { nodeClusterWanted } from "../harness/node/node-cluster.js";

const vitest = (...args: string[]) => ["node", "vitest.mjs", "run", ...args];
const asRoot = process.getuid?.() === 0;

describe("nodeClusterWanted", () => {
  it("starts no node when the filters select no file that needs one", () => {
    expect(nodeClusterWanted(vitest("test/webhook"))).toBe("no test file of this run needs it");
    expect(nodeClusterWanted(vitest("test/services/cluster-dns.test.ts", "--reporter", "dot"))).toBe("no test file of this run needs it");
  });

  it.runIf(asRoot)("starts one for the node tests, the demo test, or a whole run", () => {
    expect(nodeClusterWanted(vitest("test/node/kuberay.test.ts"))).toBe(true);
    expect(nodeClusterWanted(vitest("kuberay"))).toBe(true);
    expect(nodeClusterWanted(vitest("test/demo"))).toBe(true);
    expect(nodeClusterWanted(vitest())).toBe(true);
  });

  it("does not take an option's value for a file filter", () => {
    // "node" as a test-name pattern selects no file: without the option it would match test/node/.
    expect(nodeClusterWanted(vitest("test/webhook", "-t", "node"))).toBe("no test file of this run needs it");
    expect(nodeClusterWanted(vitest("test/webhook", "--testNamePattern", "test/node"))).toBe("no test file of this run needs it");
  });

  it("honours DDCRED_NODE=off", () => {
    const previous = process.env.DDCRED_NODE;
    process.env.DDCRED_NODE = "off";
    try {
      expect(nodeClusterWanted(vitest("test/node"))).toBe("DDCRED_NODE=off");
    } finally {
      if (previous === undefined) delete process.env.DDCRED_NODE;
      else process.env.DDCRED_NODE = previous;
    }
  });
});
