// The RoleSessionName AWS records in CloudTrail and in the assumed-role ARN
// (and so what Datadog sees): "<namespace>.<pod>", within AWS's limits of
// 2..64 characters from [\w+=,.@-].
import { createHash } from "node:crypto";

export const MAX_ROLE_SESSION_NAME_LENGTH = 64;
const NOT_ALLOWED = /[^\w+=,.@-]/g;
const HASH_LENGTH = 8;

export function roleSessionName(namespace: string, podName: string): string {
  const full = `${namespace}.${podName}`.replace(NOT_ALLOWED, "-");
  if (full.length <= MAX_ROLE_SESSION_NAME_LENGTH) return full.padEnd(2, "-");
  // Too long (pod names go up to 253): keep the readable start and add a hash
  // of the whole name, so two long names sharing a prefix stay distinct.
  const hash = createHash("sha256").update(`${namespace}/${podName}`).digest("hex").slice(0, HASH_LENGTH);
  return `${full.slice(0, MAX_ROLE_SESSION_NAME_LENGTH - HASH_LENGTH - 1)}-${hash}`;
}
