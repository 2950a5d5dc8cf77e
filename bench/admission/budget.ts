// The admission budget: what one review costs, in CPU time, from a 1 KiB pod
// to the 3 MiB the API server accepts, for pods shaped to be expensive (many
// env vars with identity env to move, many containers, many volumes, large
// annotations). The whole review is measured in process (decode, decide,
// patch, encode), as the admission server runs it on its event loop. Prints
// CPU time per review and per KiB, the 3 MiB / 1.5 MiB ratio (linear: 2), and
// the cost per KiB against the 10 KiB KubeRay worker review. Asserts nothing.
//   npm run bench:admission-budget [-- --env-table]
// Also prints the issue's own table: a pod whose first env var is
// AWS_WEB_IDENTITY_TOKEN_FILE followed by N plain ones, mutation time and heap.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { Grant } from "../../src/shared/grant.js";
import { reviewPodAdmission } from "../../src/webhook/admission-handler.js";
import { mutatePod } from "../../src/webhook/mutate-pod.js";
import type { Pod } from "../../src/webhook/pod.js";
import { settings, StaticGrantCache } from "../../test/webhook/support/fixtures.js";
import { HOSTILE_SHAPES, hostileReviewOfSize, HOSTILE_POD_LABELS } from "../../test/webhook/support/hostile-pods.js";

const ROOT = process.env.DDCRED_ROOT ?? process.cwd();
const KiB = 1024;
const SIZES = [1 * KiB, 16 * KiB, 256 * KiB, 1024 * KiB, 1536 * KiB, 3 * 1024 * KiB - 4 * KiB];
const grants = parseAllDocuments(readFileSync(join(ROOT, "test/golden/grants.yaml"), "utf8")).map((d) => d.toJS() as Grant);
const deps = { grants: new StaticGrantCache(grants), settings };

/** CPU microseconds (user + system) of the fastest of `rounds` reviews: the cost, not the noise of a shared machine. */
async function reviewCpuMicros(body: string, rounds: number): Promise<number> {
  let best = Infinity;
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let round = 0; round < rounds; round++) {
    // No large review pays for garbage an earlier one left; small ones run
    // slower right after a full collection, so they go without.
    if (body.length > 256 * KiB) gc?.();
    const before = process.cpuUsage();
    const reply = await reviewPodAdmission(body, deps);
    const used = process.cpuUsage(before);
    if (reply.statusCode !== 200) throw new Error(`review refused: ${reply.problem.message}`);
    best = Math.min(best, used.user + used.system);
  }
  return best;
}

function envTable(): void {
  console.log("\nA pod whose first env var is AWS_WEB_IDENTITY_TOKEN_FILE, then N plain ones (mutation only):");
  console.log(["env vars".padStart(9), "request".padStart(9), "mutation ms".padStart(12), "heap growth MiB".padStart(16)].join("  "));
  const gc = (globalThis as { gc?: () => void }).gc;
  for (const n of [1000, 2000, 4000, 8000]) {
    const pod: Pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { generateName: "env-", namespace: "ray-jobs", labels: { ...HOSTILE_POD_LABELS } },
      spec: {
        containers: [
          {
            name: "api",
            image: "registry.example/app:1",
            env: [
              { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token" },
              ...Array.from({ length: n }, (_, i) => ({ name: `VAR_${i}`, value: "1" })),
            ],
          },
        ],
      },
    };
    const bytes = JSON.stringify(pod).length;
    mutatePod({ pod, namespace: "ray-jobs", grants, settings }); // warm up
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let result = mutatePod({ pod, namespace: "ray-jobs", grants, settings });
    const heapGrowth = (process.memoryUsage().heapUsed - heapBefore) / (1024 * 1024);
    let ms = Infinity;
    for (let round = 0; round < 5; round++) {
      const started = process.hrtime.bigint();
      result = mutatePod({ pod, namespace: "ray-jobs", grants, settings });
      ms = Math.min(ms, Number(process.hrtime.bigint() - started) / 1e6);
    }
    if (result.outcome.reason !== "Injected") throw new Error(`not injected: ${result.outcome.message}`);
    console.log([String(n).padStart(9), `${(bytes / KiB).toFixed(0)} KiB`.padStart(9), ms.toFixed(1).padStart(12), heapGrowth.toFixed(1).padStart(16)].join("  "));
  }
  if (!gc) console.log("(run with --expose-gc for heap figures that exclude garbage from earlier rounds)");
}

async function main(): Promise<void> {
  const normal = readFileSync(join(ROOT, "webhook/samples/kuberay-worker-create.json"), "utf8");
  for (let i = 0; i < 200; i++) await reviewPodAdmission(normal, deps); // warm the JITs up
  const normalMicros = await reviewCpuMicros(normal, 200);
  const normalPerKiB = normalMicros / (normal.length / KiB);
  console.log(`Admission budget: CPU time per review (fastest of several), in process; node ${process.version}`);
  console.log(`baseline: KubeRay worker review, ${(normal.length / KiB).toFixed(1)} KiB: ${normalMicros.toFixed(0)} µs, ${normalPerKiB.toFixed(1)} µs/KiB`);
  console.log(["shape".padEnd(12), "size".padStart(9), "cpu ms".padStart(9), "µs/KiB".padStart(8), "vs baseline/KiB".padStart(16)].join("  "));
  for (const shape of HOSTILE_SHAPES) {
    const perSize = new Map<number, number>();
    for (const size of SIZES) {
      const body = hostileReviewOfSize(shape, size);
      const micros = await reviewCpuMicros(body, size > 512 * KiB ? 5 : 20);
      perSize.set(size, micros);
      const perKiB = micros / (body.length / KiB);
      console.log(
        [shape.padEnd(12), `${(body.length / KiB).toFixed(0)} KiB`.padStart(9), (micros / 1000).toFixed(2).padStart(9), perKiB.toFixed(1).padStart(8), `${(perKiB / normalPerKiB).toFixed(2)}x`.padStart(16)].join("  "),
      );
    }
    const ratio = (perSize.get(SIZES[5] as number) as number) / (perSize.get(1536 * KiB) as number);
    console.log(`${shape.padEnd(12)}  3 MiB / 1.5 MiB: ${ratio.toFixed(2)}x (linear: 2x, budget: 2.5x)`);
  }
  envTable();
}

// `--env-table` prints the env table alone (it also runs where whole reviews would not finish).
if (process.argv.includes("--env-table")) envTable();
else await main();
