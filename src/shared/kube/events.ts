// Records core/v1 Events (what `kubectl describe` shows) about our objects,
// like client-go's recorder: recording never blocks the caller (a bounded
// buffer drained in the background), and repeats of the same Event raise its
// count instead of creating another.
import { createHash } from "node:crypto";
import { CoreV1Api, type KubeConfig, type CoreV1Event } from "@kubernetes/client-node";
import type { Logger } from "../logger.js";
import { describeError, isConflict, isNotFound } from "./client.js";

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid?: string };
}

export interface EventRecorder {
  /** Queues the Event; the promise settles once it was sent (or dropped). Never rejects. */
  record(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
  /** Waits until everything recorded so far was sent (or dropped). */
  flush(): Promise<void>;
}

interface PendingEvent {
  readonly target: EventTarget;
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
  readonly at: Date;
  readonly settled: () => void;
}

const COMPONENT = "ddcred-operator";
/** Repeats within this window raise the count of one Event instead of creating another. */
const AGGREGATION_WINDOW_MS = 10 * 60_000;
const BUFFER_LIMIT = 1000;
const SENDERS = 2;

export function createEventRecorder(kubeConfig: KubeConfig, instance: string, logger: Logger): EventRecorder {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const seen = new Map<string, { count: number; at: number }>();
  const buffer: PendingEvent[] = [];
  const idle: Array<() => void> = [];
  let sending = 0;
  let dropped = 0;
  let prunedAt = 0;

  const prune = (now: number) => {
    if (now - prunedAt < 60_000) return;
    prunedAt = now;
    for (const [name, entry] of seen) if (now - entry.at > AGGREGATION_WINDOW_MS) seen.delete(name);
  };

  const send = async ({ target, type, reason, message, at, settled }: PendingEvent) => {
    try {
      await sendNow(target, type, reason, message, at);
    } finally {
      settled();
    }
  };

  const sendNow = async (target: EventTarget, type: "Normal" | "Warning", reason: string, message: string, at: Date) => {
    const { namespace } = target.metadata;
    const digest = createHash("sha256")
      .update([target.metadata.uid ?? target.metadata.name, type, reason, message].join("\u0000"))
      .digest("hex")
      .slice(0, 16);
    const name = `${target.metadata.name.slice(0, 200)}.${digest}`;
    const bump = async (count: number) => {
      seen.set(name, { count, at: at.getTime() });
      await core.patchNamespacedEvent({
        name,
        namespace,
        body: [
          { op: "replace", path: "/count", value: count },
          { op: "replace", path: "/lastTimestamp", value: at.toISOString().replace(/\.\d+Z$/, "Z") },
        ],
      });
    };
    try {
      const previous = seen.get(name);
      if (previous && at.getTime() - previous.at < AGGREGATION_WINDOW_MS) {
        await bump(previous.count + 1);
        return;
      }
      try {
        await core.createNamespacedEvent({ namespace, body: eventBody(name, target, type, reason, message, at, instance) });
        seen.set(name, { count: 1, at: at.getTime() });
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Recorded before (by an earlier leader, or before a restart): count this one on it.
        const existing = await core.readNamespacedEvent({ name, namespace });
        await bump((existing.count ?? 1) + 1);
      }
    } catch (error) {
      seen.delete(name);
      if (!isNotFound(error)) {
        logger.warn({ event: reason, object: `${namespace}/${target.metadata.name}`, error: describeError(error) }, "could not record event");
      }
    }
  };

  const drain = async () => {
    sending += 1;
    for (let next = buffer.shift(); next; next = buffer.shift()) await send(next);
    sending -= 1;
    if (sending === 0) for (const resolve of idle.splice(0)) resolve();
  };

  return {
    record(target, type, reason, message) {
      if (buffer.length >= BUFFER_LIMIT) {
        buffer.shift()?.settled();
        dropped += 1;
        if (dropped % 100 === 1) logger.warn({ dropped }, "event buffer full; dropping the oldest events");
      }
      const at = new Date();
      prune(at.getTime());
      const sent = new Promise<void>((settled) => buffer.push({ target, type, reason, message, at, settled }));
      if (sending < SENDERS) void drain();
      return sent;
    },
    flush() {
      if (sending === 0 && buffer.length === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
  };
}

function eventBody(
  name: string,
  target: EventTarget,
  type: string,
  reason: string,
  message: string,
  now: Date,
  instance: string,
): CoreV1Event {
  return {
    metadata: { name, namespace: target.metadata.namespace },
    involvedObject: {
      apiVersion: target.apiVersion,
      kind: target.kind,
      name: target.metadata.name,
      namespace: target.metadata.namespace,
      ...(target.metadata.uid ? { uid: target.metadata.uid } : {}),
    },
    type,
    reason,
    message: message.slice(0, 1024),
    count: 1,
    firstTimestamp: now,
    lastTimestamp: now,
    source: { component: COMPONENT },
    reportingComponent: COMPONENT,
    reportingInstance: instance.slice(0, 128),
  };
}
