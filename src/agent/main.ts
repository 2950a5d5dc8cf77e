// The credential agent's entry point (bundled to dist/agent.mjs): read the
// configuration the webhook wrote, start, and stop cleanly on SIGTERM/SIGINT.
// Exit codes: 0 stopped, 1 crashed, 2 invalid configuration.
import { parseAgentConfig } from "../shared/agent-config.js";
import { startAgent } from "./agent.js";
import { createLogger } from "./logger.js";

const CONFIG_ERROR_EXIT = 2;

const parsed = parseAgentConfig(process.env);
if (!parsed.ok) {
  // Plain writes: they are flushed before the process exits.
  for (const error of parsed.errors) configError(error);
  process.exit(CONFIG_ERROR_EXIT);
}
const { config } = parsed;
const log = createLogger(config.logLevel, { grant: config.grantName, pod: `${config.podNamespace}/${config.podName}` });
const started = await startAgent(config, process.env, log).catch((error: unknown) => {
  // Not a configuration problem (a port in use, an unwritable credentials directory): exit 1, restart.
  log.fatal({ err: error }, "agent failed to start");
  process.exit(1);
});
if (!started.ok) {
  configError(started.message);
  process.exit(CONFIG_ERROR_EXIT);
}
const { agent } = started;

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "stopping");
  agent.stop().then(
    () => {
      log.info("stopped");
      process.exit(0);
    },
    (error: unknown) => {
      log.error({ err: error }, "stopping failed");
      process.exit(1);
    },
  );
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);

function configError(message: string): void {
  process.stderr.write(`${JSON.stringify({ level: "fatal", time: new Date().toISOString(), component: "ddcred-agent", msg: `invalid configuration: ${message}` })}\n`);
}
