// Properties of the mutation over generated pods and grants (fast-check):
// the patch applies with a real JSON Patch implementation, a second
// admission changes nothing, and nothing outside what ddcred owns changes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Grant } from "../../src/shared/grant.js";
import { CREDENTIALS_MOUNT_PATH, GRANT_GENERATION_ANNOTATION, GRANT_LABEL, INJECTED_ANNOTATION } from "../../src/shared/names.js";
import { APP_ENV } from "../../src/webhook/app-env.js";
import { EKS_SKIP_CONTAINERS_ANNOTATION, foreignIdentityEnvNames } from "../../src/webhook/base-identity.js";
import { isInjectedAgent } from "../../src/webhook/decide-injection.js";
import { mutatePod } from "../../src/webhook/mutate-pod.js";
import type { Container, EnvVar, Pod } from "../../src/webhook/pod.js";
import { applyPatch, deepFreeze, grant, settings } from "./support/fixtures.js";

const LABEL_KEYS = ["app", "ray.io/node-type", "ray.io/cluster", "team"];
const LABEL_VALUES = ["a", "b", "head", "worker"];
const CONTAINER_NAMES = ["ray-head", "ray-worker", "main", "sidecar", "autoscaler"];
/** Mostly ordinary names, now and then a user container called ddcred-agent. */
const containerName = fc.oneof({ arbitrary: fc.constantFrom(...CONTAINER_NAMES), weight: 12 }, { arbitrary: fc.constant("ddcred-agent"), weight: 1 });
/** Mostly absent, so that single matches and conflicts are common. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary, weight: 1 });
const TOKEN_DIR = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
const POD_IDENTITY_DIR = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount";

const envVar: fc.Arbitrary<EnvVar> = fc.oneof(
  fc.record({ name: fc.constantFrom("PATH", "DD_SITE", "AWS_REGION", "DD_BEARER_TOKEN_FILE", "RAY_ADDRESS"), value: fc.constantFrom("x", "datadoghq.com", "us-east-1") }),
  fc.constant({ name: "AWS_ROLE_ARN", value: "arn:aws:iam::123456789012:role/base" }),
  fc.constant({ name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: `${TOKEN_DIR}/token` }),
  fc.constant({ name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", value: "http://169.254.170.23/v1/credentials" }),
  fc.constant({ name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", value: `${POD_IDENTITY_DIR}/eks-pod-identity-token` }),
  fc.constant({ name: "DD_SITE", valueFrom: { configMapKeyRef: { name: "dd", key: "site" } } }),
);

const mount = fc.constantFrom(
  { name: "data", mountPath: "/data" },
  { name: "aws-iam-token", mountPath: TOKEN_DIR, readOnly: true },
  { name: "eks-pod-identity-token", mountPath: POD_IDENTITY_DIR, readOnly: true },
  { name: "scratch", mountPath: CREDENTIALS_MOUNT_PATH },
  { name: "scratch", mountPath: "/var/run" },
);

const container = (name: string): fc.Arbitrary<Container> =>
  fc.record(
    {
      name: fc.constant(name),
      image: fc.constant("img"),
      env: fc.uniqueArray(envVar, { selector: (v) => v.name, maxLength: 5 }),
      volumeMounts: fc.uniqueArray(mount, { selector: (m) => m.mountPath, maxLength: 3 }),
      ports: fc.array(fc.record({ containerPort: fc.constantFrom(8080, 6379, 8265, 10001, 9911) }), { maxLength: 1 }),
      restartPolicy: fc.constant("Always"),
    },
    { requiredKeys: ["name", "image"] },
  );

/** The identity webhooks' volumes are projected service-account tokens, the others plain emptyDirs. */
function volume(name: string): NonNullable<NonNullable<Pod["spec"]>["volumes"]>[number] {
  return name.endsWith("-token")
    ? { name, projected: { sources: [{ serviceAccountToken: { audience: "sts.amazonaws.com", expirationSeconds: 86400, path: "token" } }] } }
    : { name, emptyDir: {} };
}

const labels = fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 3 });

const podArbitrary: fc.Arbitrary<Pod> = fc
  .record({
    names: fc.uniqueArray(containerName, { minLength: 1, maxLength: 4 }),
    initCount: fc.nat({ max: 2 }),
    labels,
    pick: rarely(fc.constantFrom("g0", "g1", "g2", "zz")),
    annotations: fc.oneof(
      { arbitrary: fc.constant({}), weight: 3 },
      { arbitrary: fc.dictionary(fc.constantFrom(INJECTED_ANNOTATION, "ddcred.io/inject", EKS_SKIP_CONTAINERS_ANNOTATION, "note"), fc.constantFrom("false", "g0", "main", "x"), { maxKeys: 2 }), weight: 1 },
    ),
    serviceAccountName: fc.constantFrom("default", "runner"),
    volumes: fc.uniqueArray(fc.constantFrom("data", "scratch", "ddcred", "aws-iam-token", "eks-pod-identity-token"), { maxLength: 4 }),
    hostNetwork: fc.oneof({ arbitrary: fc.constant(false), weight: 19 }, { arbitrary: fc.constant(true), weight: 1 }),
  })
  .chain(({ names, initCount, volumes, ...rest }) =>
    fc.record({
      init: fc.tuple(...names.slice(0, initCount).map(container)),
      regular: fc.tuple(...names.slice(initCount).map(container)),
    }).map(({ init, regular }) => {
      const podLabels = rest.pick === undefined ? rest.labels : { ...rest.labels, [GRANT_LABEL]: rest.pick };
      const spec: Pod["spec"] = {
        containers: regular.length > 0 ? regular : [{ name: "fallback", image: "img" }],
        ...(init.length > 0 ? { initContainers: init } : {}),
        ...(volumes.length > 0 ? { volumes: volumes.map(volume) } : {}),
        serviceAccountName: rest.serviceAccountName,
        ...(rest.hostNetwork ? { hostNetwork: true } : {}),
      };
      // Frozen: a step that edited the admitted pod in place would throw.
      return deepFreeze({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { namespace: "ray-jobs", labels: podLabels, ...(Object.keys(rest.annotations).length > 0 ? { annotations: rest.annotations } : {}) },
        spec,
      } satisfies Pod);
    }),
  );

const grantsArbitrary: fc.Arbitrary<Grant[]> = fc
  .array(
    fc.record({
      matchLabels: fc.oneof(
        { arbitrary: fc.constant({}), weight: 1 },
        { arbitrary: fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { minKeys: 1, maxKeys: 1 }), weight: 2 },
      ),
      serviceAccountNames: rarely(fc.constantFrom(["default"], ["runner"])),
      containers: rarely(fc.uniqueArray(fc.constantFrom(...CONTAINER_NAMES), { minLength: 1, maxLength: 2 })),
      exposeToWorkload: fc.boolean(),
      intakeKey: fc.boolean(),
      generation: fc.integer({ min: 1, max: 9 }),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((specs) =>
    specs.map((s, index) =>
      grant(`g${index}`, {
        generation: s.generation,
        spec: {
          podSelector: { matchLabels: s.matchLabels },
          ...(s.serviceAccountNames ? { serviceAccountNames: s.serviceAccountNames } : {}),
          ...(s.containers ? { containers: s.containers } : {}),
          aws: { exposeToWorkload: s.exposeToWorkload },
          datadog: { intakeKey: s.intakeKey },
        },
      }),
    ),
  );

const mutate = (pod: Pod, grants: Grant[]) => mutatePod({ pod, namespace: "ray-jobs", grants, settings });

/** Env names ddcred writes, or moves out of wired app containers. */
const OWNED_ENV: ReadonlySet<string> = new Set([
  ...Object.values(APP_ENV),
  "AWS_ROLE_ARN",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_SESSION_NAME",
]);
const OWNED_MOUNT_PATHS: ReadonlySet<string> = new Set([CREDENTIALS_MOUNT_PATH, TOKEN_DIR, POD_IDENTITY_DIR]);

/** The pod minus every place ddcred may write, with empty lists and maps dropped. */
function withoutOwnedFields(pod: Pod, ourVolume: string | undefined): unknown {
  const copy = structuredClone(pod);
  for (const key of [INJECTED_ANNOTATION, GRANT_GENERATION_ANNOTATION, EKS_SKIP_CONTAINERS_ANNOTATION]) delete copy.metadata?.annotations?.[key];
  delete copy.metadata?.labels?.[GRANT_LABEL];
  const spec = copy.spec as NonNullable<Pod["spec"]>;
  spec.initContainers = spec.initContainers?.filter((c) => !isInjectedAgent(c));
  spec.volumes = spec.volumes?.filter((v) => v.name !== ourVolume);
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    c.env = c.env?.filter((v) => !OWNED_ENV.has(v.name));
    c.volumeMounts = c.volumeMounts?.filter((m) => !OWNED_MOUNT_PATHS.has(m.mountPath));
  }
  return JSON.parse(JSON.stringify(copy), (_key, value: unknown) =>
    (Array.isArray(value) && value.length === 0) || (value !== null && typeof value === "object" && Object.keys(value).length === 0) ? undefined : value,
  );
}

function agentVolume(pod: Pod): string | undefined {
  const agent = pod.spec?.initContainers?.[0];
  return agent?.name === "ddcred-agent" ? agent.volumeMounts?.find((m) => m.mountPath === CREDENTIALS_MOUNT_PATH)?.name : undefined;
}

/** What an IRSA webhook that ignores skip-containers does to every container (amazon-eks-pod-identity-webhook before v0.5), and its token volume. */
function addedByIrsaWebhook(pod: Pod): Pod {
  const next = structuredClone(pod);
  const spec = next.spec as NonNullable<Pod["spec"]>;
  if (!spec.volumes?.some((v) => v.name === "aws-iam-token")) spec.volumes = [...(spec.volumes ?? []), volume("aws-iam-token")];
  for (const c of [...(next.spec?.initContainers ?? []), ...(next.spec?.containers ?? [])]) {
    if (c.env?.some((v) => v.name === "AWS_WEB_IDENTITY_TOKEN_FILE")) continue;
    c.env = [...(c.env ?? []), { name: "AWS_ROLE_ARN", value: "arn:aws:iam::123456789012:role/base" }, { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: `${TOKEN_DIR}/token` }];
    if (!c.volumeMounts?.some((m) => m.mountPath === TOKEN_DIR)) c.volumeMounts = [...(c.volumeMounts ?? []), { name: "aws-iam-token", mountPath: TOKEN_DIR, readOnly: true }];
  }
  return next;
}

const IRSA_OR_POD_IDENTITY_KINDS = ["irsa", "podIdentity"] as const;
const IDENTITY_ENV_OF: Record<(typeof IRSA_OR_POD_IDENTITY_KINDS)[number], EnvVar[]> = {
  irsa: [
    { name: "AWS_ROLE_ARN", value: "arn:aws:iam::123456789012:role/base" },
    { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: `${TOKEN_DIR}/token` },
  ],
  podIdentity: [
    { name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", value: "http://169.254.170.23/v1/credentials" },
    { name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", value: `${POD_IDENTITY_DIR}/eks-pod-identity-token` },
  ],
};

const RUNS = { numRuns: 400 };

describe("mutatePod over generated pods and grants", () => {
  it("returns a patch that a real JSON Patch implementation applies cleanly", () => {
    fc.assert(fc.property(podArbitrary, grantsArbitrary, (pod, grants) => {
      expect(() => applyPatch(pod, mutate(pod, grants).patch)).not.toThrow();
    }), RUNS);
  });

  it("returns an empty patch when admitting its own output again", () => {
    fc.assert(fc.property(podArbitrary, grantsArbitrary, (pod, grants) => {
      const admitted = applyPatch(pod, mutate(pod, grants).patch);
      expect(mutate(admitted, grants).patch).toEqual([]);
    }), RUNS);
  });

  it("touches no field outside the ones ddcred owns", () => {
    fc.assert(fc.property(podArbitrary, grantsArbitrary, (pod, grants) => {
      const admitted = applyPatch(pod, mutate(pod, grants).patch);
      const ours = pod.spec?.initContainers?.[0]?.name === "ddcred-agent" ? undefined : agentVolume(admitted);
      expect(withoutOwnedFields(admitted, ours)).toEqual(withoutOwnedFields(pod, ours));
    }), RUNS);
  });

  it("moves a base identity another webhook adds after injection out of the wired containers, and then stays put", () => {
    fc.assert(fc.property(podArbitrary, grantsArbitrary, (pod, grants) => {
      const first = mutate(pod, grants);
      if (first.outcome.reason !== "Injected") return;
      const withIrsa = addedByIrsaWebhook(applyPatch(pod, first.patch));
      const converged = applyPatch(withIrsa, mutate(withIrsa, grants).patch);
      expect(mutate(converged, grants).patch).toEqual([]);
      const exposes = converged.spec?.initContainers?.[0]?.env?.find((v) => v.name === "DDCRED_AWS_EXPOSE_TO_WORKLOAD")?.value === "true";
      for (const c of [...(converged.spec?.initContainers ?? []), ...(converged.spec?.containers ?? [])]) {
        const wired = c.volumeMounts?.some((m) => m.mountPath === CREDENTIALS_MOUNT_PATH && m.readOnly) ?? false;
        if (exposes && wired) expect(c.env?.map((v) => v.name)).not.toContain("AWS_WEB_IDENTITY_TOKEN_FILE");
        if (isInjectedAgent(c)) expect(foreignIdentityEnvNames(c)).not.toEqual([]);
      }
    }), RUNS);
  });

  it("never changes the value of an env var the user set, other than a base identity it moves", () => {
    fc.assert(fc.property(podArbitrary, grantsArbitrary, (pod, grants) => {
      const admitted = applyPatch(pod, mutate(pod, grants).patch);
      const before = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
      const after = [...(admitted.spec?.initContainers ?? []), ...(admitted.spec?.containers ?? [])];
      for (const container of before) {
        const now = after.find((c) => c.name === container.name);
        const moved = foreignIdentityEnvNames(container);
        for (const variable of (container.env ?? []).filter((v) => !moved.includes(v.name))) {
          const kept = now?.env?.find((v) => v.name === variable.name);
          if (kept) expect(kept).toEqual(variable);
        }
      }
    }), RUNS);
  });

  it("reports the pod injected exactly when it leaves with the agent and the injected annotation", () => {
    fc.assert(fc.property(podArbitrary, grantsArbitrary, (pod, grants) => {
      const result = mutate(pod, grants);
      const admitted = applyPatch(pod, result.patch);
      const carriesAgent = (admitted.spec?.initContainers ?? []).some(isInjectedAgent);
      expect(result.outcome.injected).toBe(carriesAgent && admitted.metadata?.annotations?.[INJECTED_ANNOTATION] !== undefined);
    }), RUNS);
  });

  it("puts the agent first among init containers whenever it injects", () => {
    fc.assert(fc.property(podArbitrary, grantsArbitrary, (pod, grants) => {
      const result = mutate(pod, grants);
      if (result.outcome.reason !== "Injected") return;
      expect(applyPatch(pod, result.patch).spec?.initContainers?.[0]).toMatchObject({ name: "ddcred-agent", restartPolicy: "Always" });
    }), RUNS);
  });
});

/**
 * Pods the size a pod author can make them: env lists in the thousands, names
 * duplicated, the identity env another webhook adds at any position (and
 * several times), in several containers. Built from a few generated numbers,
 * so that each run stays fast and a failure shrinks to a readable one.
 */
const largePodArbitrary: fc.Arbitrary<Pod> = fc
  .record({
    sizes: fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 3 }),
    identityAt: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
    identityKind: fc.constantFrom(...IRSA_OR_POD_IDENTITY_KINDS),
    duplicateEvery: fc.integer({ min: 2, max: 50 }),
    injectedNameEvery: fc.integer({ min: 5, max: 700 }),
    withTokenVolume: fc.boolean(),
  })
  .map(({ sizes, identityAt, identityKind, duplicateEvery, injectedNameEvery, withTokenVolume }) => {
    const containers = sizes.map((size, c): Container => {
      const env: EnvVar[] = [];
      for (let i = 0; i < size; i++) {
        if (i % injectedNameEvery === 0) env.push({ name: [...OWNED_ENV][i % OWNED_ENV.size] as string, value: `user-${i}` });
        else env.push({ name: i % duplicateEvery === 0 ? `DUP_${i % 7}` : `VAR_${c}_${i}`, value: `${i}` });
      }
      for (const at of identityAt) env.splice(Math.floor(at * env.length), 0, ...IDENTITY_ENV_OF[identityKind]);
      return {
        name: c === 0 ? "ray-head" : `worker-${c}`,
        image: "img",
        env,
        volumeMounts: withTokenVolume ? [{ name: "aws-iam-token", mountPath: TOKEN_DIR, readOnly: true }] : [],
      };
    });
    return deepFreeze({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { namespace: "ray-jobs", labels: { app: "a" } },
      spec: { containers, ...(withTokenVolume ? { volumes: [volume("aws-iam-token")] } : {}), serviceAccountName: "default" },
    } satisfies Pod);
  });

const LARGE_RUNS = { numRuns: 40 };
const largeGrants = [grant("g0", { spec: { podSelector: { matchLabels: { app: "a" } } } })];

describe("mutatePod over large adversarial pods", () => {
  it("returns a patch that applies, that a second admission leaves alone, and that touches only what ddcred owns", () => {
    fc.assert(
      fc.property(largePodArbitrary, (pod) => {
        const result = mutate(pod, largeGrants);
        expect(result.outcome.reason).toBe("Injected");
        const admitted = applyPatch(pod, result.patch);
        expect(mutate(admitted, largeGrants).patch).toEqual([]);
        expect(withoutOwnedFields(admitted, agentVolume(admitted))).toEqual(withoutOwnedFields(pod, agentVolume(admitted)));
      }),
      LARGE_RUNS,
    );
  });

  it("leaves no base identity in the wired containers and every other env var as it was", () => {
    fc.assert(
      fc.property(largePodArbitrary, (pod) => {
        const admitted = applyPatch(pod, mutate(pod, largeGrants).patch);
        for (const [index, container] of pod.spec!.containers.entries()) {
          const after = admitted.spec!.containers[index] as Container;
          const moved = foreignIdentityEnvNames(container);
          expect(foreignIdentityEnvNames(after)).toEqual([]);
          const kept = (container.env ?? []).filter((v) => !moved.includes(v.name));
          expect(after.env?.slice(0, kept.length)).toEqual(kept);
          const appended = after.env?.slice(kept.length).map((v) => v.name) ?? [];
          expect(appended.every((name) => (Object.values(APP_ENV) as string[]).includes(name))).toBe(true);
        }
      }),
      LARGE_RUNS,
    );
  });

  it("answers with at most a handful of warnings, however many containers keep their own env", () => {
    fc.assert(
      fc.property(largePodArbitrary, (pod) => {
        expect(mutate(pod, largeGrants).warnings.length).toBeLessThanOrEqual(6);
      }),
      LARGE_RUNS,
    );
  });
});
