// A user's TypeScript program calling the Datadog API with the official
// client and the bearer token the agent keeps in DD_BEARER_TOKEN_FILE, as the
// README shows: the file is read for each call, and read again when Datadog
// refuses the token.
//
//   node datadog-bearer.ts HOST SECONDS   calls UsersApi.listUsers for SECONDS against HOST
//
// Prints {"calls", "refused", "tokens"}; exits 1 on any other error. The test
// bed's Datadog listens on loopback over plain HTTP, so the program passes a
// baseServer; without one the client goes to https://api.<DD_SITE>.
// scripts/build-consumers.sh installs the client next to a copy of this file,
// type-checks it and Node 24 runs it as it is (type stripping).
// README: TypeScript
import { readFileSync } from "node:fs";
import { client, v2 } from "@datadog/datadog-api-client";

type ClientParameters = NonNullable<Parameters<typeof client.createConfiguration>[0]>;

/**
 * Runs call with the token the agent keeps in DD_BEARER_TOKEN_FILE, read for each call (the agent
 * replaces it before it expires); if Datadog refuses it, reads the file once more and repeats the
 * call. `parameters` are any other client settings; the site comes from DD_SITE.
 */
async function callDatadog<T>(
  call: (configuration: client.Configuration) => Promise<T>,
  parameters: ClientParameters = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const accessToken = readFileSync(process.env.DD_BEARER_TOKEN_FILE!, "utf8").trim();
    try {
      return await call(client.createConfiguration({ ...parameters, authMethods: { AuthZ: { accessToken } } }));
    } catch (error) {
      if (attempt === 2 || !(error instanceof client.ApiException && error.code === 401)) throw error;
    }
  }
}

// For example:
//   const users = await callDatadog((configuration) => new v2.UsersApi(configuration).listUsers());
// README: end

const [host, seconds] = process.argv.slice(2) as [string, string];
const parameters = { baseServer: new client.BaseServerConfiguration(host, {}) };
const tokens = new Set<string>();
let calls = 0;
let refused = 0;
const deadline = Date.now() + Number(seconds) * 1000;
while (Date.now() < deadline) {
  const users = await callDatadog(async (configuration) => {
    // The token this call carries (a private field of the client: read here only to count rotations).
    tokens.add((configuration.authMethods.AuthZ as unknown as { accessToken: string }).accessToken);
    calls += 1;
    try {
      return await new v2.UsersApi(configuration).listUsers();
    } catch (error) {
      if (error instanceof client.ApiException && error.code === 401) refused += 1;
      throw error;
    }
  }, parameters);
  if ((users.data ?? []).length === 0) throw new Error("no users in the answer");
  await new Promise((resolve) => setTimeout(resolve, 100));
}
console.log(JSON.stringify({ calls, refused, tokens: tokens.size }));
