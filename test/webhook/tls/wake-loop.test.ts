import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WakeLoop } from "../../../src/webhook/tls/wake-loop.js";

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("the wake loop behind the certificate and caBundle reconcilers", () => {
  it("runs the next step at the time the previous one asked for", async () => {
    const steps: number[] = [];
    const loop = new WakeLoop({ step: async () => (steps.push(Date.now()), Date.now() + 5_000), onError: () => undefined });
    const start = Date.now();
    loop.start();
    await vi.advanceTimersByTimeAsync(12_000);
    await loop.stop();
    expect(steps.map((at) => at - start)).toEqual([0, 5_000, 10_000]);
  });

  it("never overlaps steps: a wake during a step runs one more step after it", async () => {
    let running = 0;
    let overlapped = false;
    let steps = 0;
    const loop = new WakeLoop({
      step: async () => {
        running += 1;
        overlapped ||= running > 1;
        steps += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
        running -= 1;
        return undefined;
      },
      onError: () => undefined,
    });
    loop.start();
    loop.wake();
    loop.wake();
    await vi.advanceTimersByTimeAsync(1_000);
    await loop.stop();
    expect(overlapped).toBe(false);
    expect(steps).toBe(2);
  });

  it("backs off after a failure even when woken, and reports each failure", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.99); // backoff of almost the whole ceiling
    const failures: number[] = [];
    let steps = 0;
    const loop = new WakeLoop({
      step: async () => {
        steps += 1;
        throw new Error("API server unavailable");
      },
      onError: (_error, count) => failures.push(count),
      backoffBaseMs: 1_000,
      backoffMaxMs: 1_000,
    });
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    loop.wake();
    await vi.advanceTimersByTimeAsync(400);
    expect(steps).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await loop.stop();
    expect(steps).toBe(2);
    expect(failures).toEqual([1, 2]);
  });
});
