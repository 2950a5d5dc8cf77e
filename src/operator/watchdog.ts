// Caches must never go silently stale: a watch can hang on a half-open
// connection and deliver nothing, with no error. Healthy watches end
// and restart every ~25 s, so a long silence means a stuck stream: relist.
// If even relists fail for minutes, /healthz fails and the kubelet restarts us.
import type { SupervisedCache } from "../shared/kube/informer.js";
import type { Logger } from "../shared/logger.js";

const RELIST_AFTER_MS = 2 * 60_000;

export function cacheProblems(informers: readonly SupervisedCache[], options: { staleAfterMs: number; now?: number }): string[] {
  const now = options.now ?? Date.now();
  return informers
    .map((informer) => ({ informer, health: informer.health() }))
    .filter(({ health }) => health.synced && now - health.lastContactAt > options.staleAfterMs)
    .map(({ health }) => `a cache has heard nothing from the API server for ${Math.round((now - health.lastContactAt) / 1000)} s`);
}

/** Asks every synced cache silent for longer than RELIST_AFTER_MS to relist; returns how many were asked. */
export function relistSilentCaches(informers: readonly SupervisedCache[], logger: Logger, now = Date.now()): number {
  let asked = 0;
  for (const informer of informers) {
    const health = informer.health();
    if (health.synced && now - health.lastContactAt > RELIST_AFTER_MS) {
      logger.warn({ silentForMs: now - health.lastContactAt }, "cache is silent; relisting");
      informer.requestRelist("watchdog");
      asked += 1;
    }
  }
  return asked;
}

/**
 * `informers` is asked at every round: caches that start later (KubeRay's,
 * once its CRDs are installed) are supervised from the round after they start.
 */
export function startCacheWatchdog(informers: () => readonly SupervisedCache[], logger: Logger): NodeJS.Timeout {
  const timer = setInterval(() => relistSilentCaches(informers(), logger), 30_000);
  timer.unref();
  return timer;
}
