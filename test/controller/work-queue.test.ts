import { describe, expect, it } from "vitest";
import { WorkQueue } from "../../src/controller/work-queue.js";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("WorkQueue", () => {
  it("never runs one key twice at once, and runs it again if it was added meanwhile", async () => {
    const gate = deferred();
    const runs: string[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const queue = new WorkQueue(
      async (key) => {
        concurrent += 1;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        runs.push(key);
        if (runs.length === 1) await gate.promise;
        concurrent -= 1;
      },
      { concurrency: 4, onError: () => {} },
    );
    queue.start();
    queue.add("a");
    queue.add("a"); // while running: marks it dirty
    queue.add("a");
    gate.resolve();
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toEqual(["a", "a"]);
    expect(maxConcurrent).toBe(1);
  });

  it("collapses repeated adds of a waiting key", async () => {
    const gate = deferred();
    const runs: string[] = [];
    const queue = new WorkQueue(
      async (key) => {
        runs.push(key);
        if (key === "busy") await gate.promise;
      },
      { concurrency: 1, onError: () => {} },
    );
    queue.add("ignored-before-start");
    queue.start();
    queue.add("busy"); // holds the only worker while the others wait
    for (const key of ["a", "b", "a", "b", "a"]) queue.add(key);
    gate.resolve();
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toEqual(["busy", "a", "b"]);
  });

  it("retries a failing key with growing delays until it succeeds", async () => {
    let attempts = 0;
    const errors: number[] = [];
    const done = deferred();
    const queue = new WorkQueue(
      async () => {
        attempts += 1;
        if (attempts < 3) throw new Error("conflict");
        done.resolve();
      },
      { concurrency: 1, baseDelayMs: 5, onError: (_, __, attempt) => errors.push(attempt) },
    );
    queue.start();
    queue.add("a");
    await done.promise;
    expect(errors).toEqual([1, 2]);
  });

  it("stops taking work and waits for what is in flight", async () => {
    const gate = deferred();
    let finished = false;
    const queue = new WorkQueue(
      async () => {
        await gate.promise;
        finished = true;
      },
      { concurrency: 1, onError: () => {} },
    );
    queue.start();
    queue.add("a");
    await new Promise((r) => setTimeout(r, 5));
    const stopping = queue.stop();
    gate.resolve();
    await stopping;
    expect(finished).toBe(true);
    queue.add("b");
    expect(queue.depth()).toBe(0);
  });
});
