// Which AWS identities an org accepts. An org lists IAM role ARNs (with their
// path); STS reports a role session as arn:PART:sts::ACCOUNT:assumed-role/NAME/SESSION,
// without the path, so a session matches a listed role by partition, account
// and role name. An IAM user ARN matches only itself.

export interface OrgMapping {
  readonly uuid: string;
  /** Datadog's numeric org id, answered with intake keys; default derived from the UUID. */
  readonly orgId?: number;
  readonly roleArns: readonly string[];
}

interface Principal {
  readonly partition: string;
  readonly account: string;
  readonly kind: "role" | "user";
  readonly name: string;
}

const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/(?:[^/]+\/)*([^/]+)$/;
const ASSUMED_ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/;
const USER_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):user\/(?:[^/]+\/)*([^/]+)$/;

export function principalOf(arn: string): Principal | undefined {
  for (const [pattern, kind] of [[ROLE_ARN, "role"], [ASSUMED_ROLE_ARN, "role"], [USER_ARN, "user"]] as const) {
    const match = pattern.exec(arn);
    if (match) return { partition: match[1]!, account: match[2]!, kind, name: match[3]! };
  }
  return undefined;
}

export function isMapped(callerArn: string, allowedArns: readonly string[]): boolean {
  const caller = principalOf(callerArn);
  if (caller === undefined) return false;
  return allowedArns.some((allowed) => {
    const listed = principalOf(allowed);
    return (
      listed !== undefined &&
      listed.kind === caller.kind &&
      listed.partition === caller.partition &&
      listed.account === caller.account &&
      listed.name === caller.name &&
      (caller.kind === "role" || allowed === callerArn)
    );
  });
}
