// Per-call cancellation for client-node's generated APIs: they take no
// AbortSignal parameter, but a middleware may set one on the request it is
// about to send. Aborting destroys the connection, so a call stalled on a
// half-open connection ends when its deadline or its owner says so, and never
// completes later behind our back.
import { Observable, type ConfigurationOptions } from "@kubernetes/client-node";

export function withSignal(signal: AbortSignal, options?: ConfigurationOptions): ConfigurationOptions {
  return {
    ...options,
    middleware: [
      ...(options?.middleware ?? []),
      {
        pre: (context) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}
