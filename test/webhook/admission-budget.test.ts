// The admission budget, as ratios of CPU time on this machine (never wall
// time against a threshold): a review's cost grows linearly with the pod, up
// to the 3 MiB the API server accepts, whatever shape the pod author gives it.
// Each figure is the fastest of several reviews, so that other work on a
// shared machine does not decide the outcome.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { Grant } from "../../src/shared/grant.js";
import { reviewPodAdmission } from "../../src/webhook/admission-handler.js";
import { settings, StaticGrantCache } from "./support/fixtures.js";
import { HOSTILE_SHAPES, hostileReviewOfSize } from "./support/hostile-pods.js";

const root = join(import.meta.dirname, "../..");
const grants = parseAllDocuments(readFileSync(join(root, "test/golden/grants.yaml"), "utf8")).map((d) => d.toJS() as Grant);
const deps = { grants: new StaticGrantCache(grants), settings };
const KiB = 1024;
const LARGEST = 3 * 1024 * KiB - 4 * KiB;

async function cpuMicros(body: string, rounds: number): Promise<number> {
  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    const before = process.cpuUsage();
    const reply = await reviewPodAdmission(body, deps);
    const used = process.cpuUsage(before);
    expect(reply.statusCode).toBe(200);
    best = Math.min(best, used.user + used.system);
  }
  return best;
}

describe("the admission budget", () => {
  it.each(HOSTILE_SHAPES)("reviews a 3 MiB pod shaped by %s for at most 2.5 times the CPU of a 1.5 MiB one", async (shape) => {
    const half = hostileReviewOfSize(shape, LARGEST / 2);
    const full = hostileReviewOfSize(shape, LARGEST);
    expect(full.length).toBeGreaterThan(3 * 1024 * KiB - 64 * KiB);
    await cpuMicros(half, 2); // warm the JITs up
    const ratio = (await cpuMicros(full, 5)) / (await cpuMicros(half, 5));
    expect(ratio).toBeLessThan(2.5);
  });

  it("reviews the costliest 3 MiB pod for at most 8 times the CPU per KiB of a KubeRay worker review", async () => {
    const normal = readFileSync(join(root, "webhook/samples/kuberay-worker-create.json"), "utf8");
    await cpuMicros(normal, 300);
    const normalPerKiB = (await cpuMicros(normal, 300)) / (normal.length / KiB);
    for (const shape of HOSTILE_SHAPES) {
      const body = hostileReviewOfSize(shape, LARGEST);
      const perKiB = (await cpuMicros(body, 4)) / (body.length / KiB);
      expect(perKiB / normalPerKiB, shape).toBeLessThan(8);
    }
  });
});
