// The memory baseline: a bare Node.js HTTP server answering a small JSON
// body, nothing imported. The agent's RSS is reported as a ratio against it.
import { createServer } from "node:http";

const body = JSON.stringify({ token: "x".repeat(32), expiresAt: new Date().toISOString() });
const server = createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(body);
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`listening on ${typeof address === "object" && address ? address.port : 0}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
