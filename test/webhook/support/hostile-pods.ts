// Pods as large as the API server accepts (a 3 MiB request), shaped the way
// a pod author would shape them to make admission expensive: thousands of env
// vars with identity env to move in every position and duplicated names, many
// containers, many volumes and mounts, large annotations. Used by the
// admission-budget tests and by bench/admission/budget.ts.
import type { Container, EnvVar, Pod } from "../../../src/webhook/pod.js";

export const HOSTILE_SHAPES = ["env", "containers", "volumes", "annotations", "mixed"] as const;
export type HostileShape = (typeof HOSTILE_SHAPES)[number];

/** Selected by the distroless-api grant of test/golden/grants.yaml, which wires every regular container. */
export const HOSTILE_POD_LABELS = { "app.kubernetes.io/name": "orders-api" } as const;
const TOKEN_DIR = "/var/run/secrets/eks.amazonaws.com/serviceaccount";

const IDENTITY_ENV: readonly EnvVar[] = [
  { name: "AWS_ROLE_ARN", value: "arn:aws:iam::123456789012:role/base" },
  { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: `${TOKEN_DIR}/token` },
  { name: "AWS_STS_REGIONAL_ENDPOINTS", value: "regional" },
];

/** n env vars; every 97th an identity var, every 13th a duplicate name, a few of the names ddcred injects. */
export function hostileEnv(n: number): EnvVar[] {
  const env: EnvVar[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 97 === 0) env.push(IDENTITY_ENV[(i / 97) % IDENTITY_ENV.length] as EnvVar);
    else if (i % 13 === 0) env.push({ name: `DUPLICATE_${i % 5}`, value: `value-${i}` });
    else if (i % 501 === 0) env.push({ name: "DD_SITE", value: "datadoghq.eu" });
    else env.push({ name: `VAR_${i}`, value: `value-of-variable-${i}` });
  }
  return env;
}

function container(name: string, envCount: number, mounts: number): Container {
  return {
    name,
    image: "registry.example/app:1",
    env: hostileEnv(envCount),
    volumeMounts: [
      { name: "aws-iam-token", mountPath: TOKEN_DIR, readOnly: true },
      ...Array.from({ length: mounts }, (_, i) => ({ name: `data-${i}`, mountPath: `/data/${i}` })),
    ],
  };
}

/** A pod of the given shape scaled by `units` (each shape's unit is a few dozen bytes to a few hundred). */
export function hostilePod(shape: HostileShape, units: number): Pod {
  const volumes = (n: number) => [
    { name: "aws-iam-token", projected: { sources: [{ serviceAccountToken: { audience: "sts.amazonaws.com", expirationSeconds: 86400, path: "token" } }] } },
    ...Array.from({ length: n }, (_, i) => ({ name: `data-${i}`, emptyDir: {} })),
  ];
  const annotations = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`example.com/note-${i}`, "x".repeat(200)]));
  let containers: Container[];
  let podVolumes = volumes(0);
  let podAnnotations: Record<string, string> = {};
  switch (shape) {
    case "env":
      containers = [container("api", units, 0)];
      break;
    case "containers":
      containers = Array.from({ length: Math.max(1, Math.round(units / 10)) }, (_, i) => container(`c-${i}`, 5, 0));
      break;
    case "volumes":
      containers = [container("api", 3, units)];
      podVolumes = volumes(units);
      break;
    case "annotations":
      containers = [container("api", 3, 0)];
      podAnnotations = annotations(Math.max(1, Math.round(units / 4)));
      break;
    case "mixed": {
      const share = Math.max(1, Math.round(units / 4));
      containers = [container("api", share, Math.round(share / 4)), ...Array.from({ length: Math.round(share / 40) }, (_, i) => container(`c-${i}`, 5, 0))];
      podVolumes = volumes(Math.round(share / 4));
      podAnnotations = annotations(Math.round(share / 16));
      break;
    }
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: "hostile-",
      namespace: "ray-jobs",
      labels: { ...HOSTILE_POD_LABELS },
      ...(Object.keys(podAnnotations).length > 0 ? { annotations: podAnnotations } : {}),
    },
    spec: { containers, volumes: podVolumes, serviceAccountName: "default" },
  };
}

/** An AdmissionReview (admission.k8s.io/v1 CREATE) carrying `pod`. */
export function admissionReview(pod: Pod, uid = "00000000-0000-4000-8000-000000000000"): string {
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      requestResource: { group: "", version: "v1", resource: "pods" },
      namespace: pod.metadata?.namespace ?? "ray-jobs",
      operation: "CREATE",
      userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller" },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1" },
    },
  });
}

/** The review of a `shape` pod as close to `bytes` as the shape's unit allows. */
export function hostileReviewOfSize(shape: HostileShape, bytes: number): string {
  const probe = 200;
  const base = admissionReview(hostilePod(shape, 0)).length;
  const perUnit = (admissionReview(hostilePod(shape, probe)).length - base) / probe;
  let units = Math.max(1, Math.round((bytes - base) / perUnit));
  let review = admissionReview(hostilePod(shape, units));
  // One correction step is enough: sizes are close to linear in units.
  units = Math.max(1, Math.round(units * (bytes / review.length)));
  review = admissionReview(hostilePod(shape, units));
  return review;
}
