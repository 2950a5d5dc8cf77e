// Node/V8 flags the agent container runs with (`node ${AGENT_NODE_FLAGS} agent.mjs`).
// Every pod pays the agent's memory, and the agent does little computing: it
// refreshes a few credentials an hour and answers a few small requests.
// bench/agent measures the effect in one run against a bare Node.js server
// (see its output): without these, the JIT tiers' compiled code and their
// compiler memory add 10+ MB under load, and the young generation grows to
// 8 MB for a heap that holds about 13 MB in all. The interpreter answers the
// loopback API well under the 2 ms p99 target.
export const AGENT_NODE_FLAGS: readonly string[] = [
  // A 1 MB young generation semi-space: scavenges stay cheap on a heap this small.
  "--max-semi-space-size=1",
  // Interpreter only (Ignition): no Sparkplug, Maglev or TurboFan code or compiler zones.
  "--no-sparkplug",
  "--no-maglev",
  "--no-opt",
  // undici (fetch) parses HTTP with llhttp compiled to WebAssembly; its TurboFan
  // tier-up keeps about 14 MB of compiler memory. Liftoff's baseline code is plenty here.
  "--liftoff-only",
  // Smaller heap growth steps and a more eager memory reducer.
  "--optimize-for-size",
];
