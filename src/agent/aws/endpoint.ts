// Which STS endpoints the agent uses. AssumeRole goes to the regional
// endpoint of the role's partition unless the container configures one
// (AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, the precedence the AWS SDKs
// use). The Datadog proof always names the public regional endpoint: Datadog
// replays it from its own side, where a VPC endpoint or an emulator is not
// reachable, and accepts only AWS STS hosts.
import { failure, type Failure } from "../credentials.js";
import { AGENT_ENV } from "../../shared/agent-config.js";

export type Partition = "aws" | "aws-cn" | "aws-us-gov";

const DNS_SUFFIX: Record<Partition, string> = {
  aws: "amazonaws.com",
  "aws-cn": "amazonaws.com.cn",
  "aws-us-gov": "amazonaws.com",
};

export function partitionOfArn(arn: string): Partition | undefined {
  const partition = arn.split(":")[1];
  return partition === "aws" || partition === "aws-cn" || partition === "aws-us-gov" ? partition : undefined;
}

export function partitionOfRegion(region: string): Partition {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

export interface StsEndpoints {
  readonly ok: true;
  /** Where the agent sends AssumeRole. */
  readonly assumeRoleUrl: string;
  /** The STS URL the Datadog proof is signed for. */
  readonly proofUrl: string;
}

export function resolveStsEndpoints(
  roleArn: string,
  region: string,
  env: Readonly<Record<string, string | undefined>>,
): StsEndpoints | Failure {
  const partition = partitionOfArn(roleArn);
  if (partition === undefined) return failure("InvalidRequest", `${AGENT_ENV.roleArn} has no known partition: ${JSON.stringify(roleArn)}`);
  if (partitionOfRegion(region) !== partition) {
    return failure(
      "InvalidRequest",
      `${AGENT_ENV.region} ${JSON.stringify(region)} is not in the role's partition ${partition}; use a region of that partition`,
    );
  }
  const regional = `https://sts.${region}.${DNS_SUFFIX[partition]}`;
  const configured = env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL;
  if (configured && !/^https?:\/\/[^/]+/.test(configured)) {
    return failure("InvalidRequest", `AWS_ENDPOINT_URL_STS (or AWS_ENDPOINT_URL) must be an http(s) URL, got ${JSON.stringify(configured)}`);
  }
  return { ok: true, assumeRoleUrl: configured ? configured.replace(/\/+$/, "") : regional, proofUrl: regional };
}
