// A pod in the shape amazon-eks-pod-identity-webhook gives IRSA pods: the web
// identity env (role, token file, session name, regional STS) on each
// container and a projected ServiceAccount token for the sts.amazonaws.com
// audience. On the node the token is real: the kubelet requests it from the
// API server, and the STS front verifies it.
import type { V1EnvVar, V1Pod, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { IRSA_AUDIENCE } from "./web-identity-sts.js";

export const IRSA_TOKEN_DIR = "/var/run/secrets/eks.amazonaws.com/serviceaccount";

export interface IrsaIdentity {
  readonly roleArn: string;
  readonly sessionName: string;
  /** The STS endpoint (AWS_ENDPOINT_URL_STS): the test bed's front. */
  readonly stsUrl: string;
}

/** The web identity env EKS adds to each container. */
export function irsaEnv(identity: IrsaIdentity): V1EnvVar[] {
  return [
    { name: "AWS_ROLE_ARN", value: identity.roleArn },
    { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: `${IRSA_TOKEN_DIR}/token` },
    { name: "AWS_ROLE_SESSION_NAME", value: identity.sessionName },
    { name: "AWS_STS_REGIONAL_ENDPOINTS", value: "regional" },
    { name: "AWS_DEFAULT_REGION", value: "us-east-1" },
    // The app's own STS calls go to the test bed's STS too.
    { name: "AWS_ENDPOINT_URL_STS", value: identity.stsUrl },
  ];
}

/** Where each container reads the projected token, and the volume that projects it. */
export const IRSA_TOKEN_MOUNT: V1VolumeMount = { name: "aws-iam-token", mountPath: IRSA_TOKEN_DIR, readOnly: true };
export const IRSA_TOKEN_VOLUME: V1Volume = {
  name: "aws-iam-token",
  projected: { sources: [{ serviceAccountToken: { audience: IRSA_AUDIENCE, expirationSeconds: 86400, path: "token" } }] },
};

/** The pod with the IRSA env and token mount added to every container, and the token volume. */
export function withIrsa(pod: V1Pod, identity: IrsaIdentity): V1Pod {
  const spec = pod.spec!;
  return {
    ...pod,
    spec: {
      ...spec,
      containers: spec.containers.map((container) => ({
        ...container,
        env: [...(container.env ?? []), ...irsaEnv(identity)],
        volumeMounts: [...(container.volumeMounts ?? []), IRSA_TOKEN_MOUNT],
      })),
      volumes: [...(spec.volumes ?? []), IRSA_TOKEN_VOLUME],
    },
  };
}
