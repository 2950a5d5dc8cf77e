// The env an app container receives (README "How it works", Injection): where to find
// the Datadog token and the AWS credentials the agent keeps. File paths and
// loopback URLs only: nothing here is ever a secret.
import type { ResolvedGrantSpec } from "../shared/grant.js";
import { AGENT_PATHS, CREDENTIAL_FILES, CREDENTIALS_MOUNT_PATH } from "../shared/names.js";
import type { EnvVar } from "./pod.js";

export const APP_ENV = {
  site: "DD_SITE",
  endpoint: "DDCRED_ENDPOINT",
  bearerTokenFile: "DD_BEARER_TOKEN_FILE",
  apiKeyFile: "DD_API_KEY_FILE",
  awsConfigFile: "AWS_CONFIG_FILE",
  containerCredentialsUri: "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  containerAuthorizationTokenFile: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  region: "AWS_REGION",
  /** botocore reads only this one; the other SDKs read AWS_REGION. */
  defaultRegion: "AWS_DEFAULT_REGION",
} as const;

export function credentialFilePath(file: string): string {
  return `${CREDENTIALS_MOUNT_PATH}/${file}`;
}

export function agentEndpoint(apiPort: number): string {
  return `http://127.0.0.1:${apiPort}`;
}

/** The env the grant gives each chosen app container, in the order it is appended. */
export function appEnv(spec: ResolvedGrantSpec, settings: { readonly apiPort: number }): EnvVar[] {
  const endpoint = agentEndpoint(settings.apiPort);
  const env: EnvVar[] = [
    { name: APP_ENV.site, value: spec.datadog.site },
    { name: APP_ENV.endpoint, value: endpoint },
  ];
  if (spec.datadog.apiToken) {
    env.push({ name: APP_ENV.bearerTokenFile, value: credentialFilePath(CREDENTIAL_FILES.datadogToken) });
  }
  if (spec.datadog.intakeKey) {
    env.push({ name: APP_ENV.apiKeyFile, value: credentialFilePath(CREDENTIAL_FILES.datadogIntakeKey) });
  }
  if (spec.aws.exposeToWorkload) {
    env.push(
      // credential_process (a `cat`) for images with only a POSIX shell; the
      // SDKs try it before the container-credentials endpoint below, which
      // serves images without even a shell. botocore does not fall through
      // when `cat` is missing: the README tells distroless Python users to set
      // AWS_CONFIG_FILE themselves (user env is left alone).
      { name: APP_ENV.awsConfigFile, value: credentialFilePath(CREDENTIAL_FILES.awsConfig) },
      { name: APP_ENV.containerCredentialsUri, value: `${endpoint}${AGENT_PATHS.awsCredentials}` },
      { name: APP_ENV.containerAuthorizationTokenFile, value: credentialFilePath(CREDENTIAL_FILES.agentToken) },
      { name: APP_ENV.region, value: spec.aws.region },
      { name: APP_ENV.defaultRegion, value: spec.aws.region },
    );
  }
  return env;
}
