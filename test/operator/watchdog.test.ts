// The cache watchdog: a synced cache that has heard nothing for two minutes is
// asked to relist (a watch stuck on a half-open connection delivers nothing
// and no error); caches that start later, like KubeRay's, are supervised too.
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { SupervisedCache } from "../../src/shared/kube/informer.js";
import { cacheProblems, relistSilentCaches } from "../../src/operator/watchdog.js";

const NOW = 10_000_000;

function cache(synced: boolean, silentForMs: number): SupervisedCache & { relists: string[] } {
  const relists: string[] = [];
  return {
    relists,
    health: () => ({ synced, lastContactAt: NOW - silentForMs, consecutiveFailures: 0 }),
    hasSynced: () => synced,
    requestRelist: (why) => relists.push(why),
    stop: async () => undefined,
  };
}

describe("the cache watchdog", () => {
  const logger = pino({ level: "silent" });

  it("asks only a synced cache silent for more than two minutes to relist", () => {
    const talking = cache(true, 30_000);
    const silent = cache(true, 121_000);
    const syncing = cache(false, 600_000);
    expect(relistSilentCaches([talking, silent, syncing], logger, NOW)).toBe(1);
    expect([talking.relists, silent.relists, syncing.relists]).toEqual([[], ["watchdog"], []]);
  });

  it("reports to liveness only caches silent past its own, longer limit", () => {
    expect(cacheProblems([cache(true, 121_000)], { staleAfterMs: 300_000, now: NOW })).toEqual([]);
    expect(cacheProblems([cache(true, 301_000)], { staleAfterMs: 300_000, now: NOW })).toEqual(["a cache has heard nothing from the API server for 301 s"]);
  });
});
