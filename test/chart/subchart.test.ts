// The chart as a subchart of an umbrella chart: the parent passes `global`
// (Helm hands it to every subchart) and switches this one with the
// conventional `<name>.enabled` condition. The strict schema must accept
// both, or the chart cannot be a dependency at all.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CHART_DIR, findObject, helm, KUBE_VERSION_ARGS, parseObjects, VALUES_FROM_STDIN, valuesInput } from "./helm.js";

const scratch = mkdtempSync(join(tmpdir(), "ddcred-umbrella-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** An umbrella chart holding this one under charts/, as `helm dependency build` leaves it. */
function umbrellaChart(): string {
  const dir = join(scratch, "platform");
  mkdirSync(join(dir, "charts"), { recursive: true });
  writeFileSync(
    join(dir, "Chart.yaml"),
    [
      "apiVersion: v2",
      "name: platform",
      "version: 1.0.0",
      "dependencies:",
      "  - name: ddcred-operator",
      '    version: ">=0.0.0-0"',
      "    condition: ddcred-operator.enabled",
      "",
    ].join("\n"),
  );
  // Dereferenced, as `helm package` stores the CRD files the chart links to.
  cpSync(CHART_DIR, join(dir, "charts/ddcred-operator"), { recursive: true, dereference: true });
  return dir;
}

const umbrella = umbrellaChart();

function renderUmbrella(values: object) {
  return helm(["template", "platform", umbrella, "--namespace", "platform", ...KUBE_VERSION_ARGS, ...VALUES_FROM_STDIN], valuesInput(values));
}

describe("the chart as a subchart", () => {
  it("renders under a parent chart that passes global values and enables it", async () => {
    const result = await renderUmbrella({ global: { imageRegistry: "registry.example.com", imagePullSecrets: [] }, "ddcred-operator": { enabled: true } });
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    const deployment = findObject(parseObjects(result.stdout), "Deployment") as any;
    expect(deployment.metadata.name).toBe("platform-ddcred-operator");
  });

  it("renders nothing of it when the parent's condition turns it off", async () => {
    const result = await renderUmbrella({ global: { imageRegistry: "registry.example.com" }, "ddcred-operator": { enabled: false } });
    expect(result.code).toBe(0);
    expect(parseObjects(result.stdout)).toEqual([]);
  });

  it("still rejects an unknown key beside global and enabled", async () => {
    const result = await renderUmbrella({ global: {}, "ddcred-operator": { enabled: true, replicaCuont: 3 } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/replicaCuont/);
  });
});
