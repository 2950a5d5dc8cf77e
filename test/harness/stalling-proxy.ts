// A TCP proxy in front of the API server that can go silent the way a
// half-open connection does: once stalled, every byte in either direction is
// swallowed while the connections stay open, so calls hang rather than fail
// and what was swallowed never arrives later. TLS passes through untouched.
// `stallAtNextRequest` arms it to stall at the next bytes the client sends:
// a request cut off in flight.
import { createServer, connect, type Server, type Socket } from "node:net";

export interface StallingProxy {
  /** https://127.0.0.1:<port>: the API server's certificate names 127.0.0.1. */
  readonly url: string;
  stallAtNextRequest(): void;
  /** Epoch ms at which the proxy stalled, once it has. */
  stalledAt(): number | undefined;
  /** Forwards again; connections cut while stalled are closed (their streams lost bytes). */
  heal(): void;
  stop(): Promise<void>;
}

export async function startStallingProxy(targetUrl: string): Promise<StallingProxy> {
  const target = new URL(targetUrl);
  let armed = false;
  let stalledAt: number | undefined;
  const cut = new Set<Socket>();
  const open = new Set<Socket>();

  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    open.add(client);
    open.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
    client.on("data", (chunk: Buffer) => {
      if (armed && stalledAt === undefined) stalledAt = Date.now();
      if (stalledAt !== undefined) {
        cut.add(client);
        return;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (stalledAt !== undefined) {
        cut.add(client);
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("stalling proxy has no address");

  return {
    url: `https://127.0.0.1:${address.port}`,
    stallAtNextRequest: () => {
      armed = true;
    },
    stalledAt: () => stalledAt,
    heal: () => {
      armed = false;
      stalledAt = undefined;
      for (const socket of cut) socket.destroy();
      cut.clear();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
