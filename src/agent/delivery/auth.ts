// The per-pod secret that guards the loopback API. Other containers of the
// pod share the network namespace, so loopback alone is not enough: only
// those that can read the credentials volume get the secret.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** 256 random bits, URL-safe: fits an HTTP header and a file as is. */
export function generateAgentSecret(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * Checks an Authorization header against the secret in constant time. The
 * AWS SDKs send AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE's content raw; other
 * clients may send "Bearer <secret>". Comparing SHA-256 digests gives
 * timingSafeEqual the equal lengths it needs without leaking the length.
 */
export function createAuthorizer(secret: string): (authorization: string | undefined) => boolean {
  const expected = digest(secret);
  return (authorization) => {
    if (authorization === undefined || authorization === "") return false;
    const presented = /^bearer\s+/i.test(authorization) ? authorization.replace(/^bearer\s+/i, "") : authorization;
    return timingSafeEqual(digest(presented), expected);
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
