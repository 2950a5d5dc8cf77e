// Records core/v1 Events (what `kubectl describe` shows) about our objects,
// aggregating repeats into one Event with a count, as client-go's recorder does.
import { createHash } from "node:crypto";
import { CoreV1Api, type KubeConfig, type CoreV1Event } from "@kubernetes/client-node";
import type { Logger } from "../logger.js";
import { describeError, isConflict, isNotFound } from "./client.js";

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid?: string; readonly resourceVersion?: string };
}

export interface EventRecorder {
  record(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

const COMPONENT = "ddcred-operator";
/** Repeats within this window raise the count of one Event instead of creating another. */
const AGGREGATION_WINDOW_MS = 10 * 60_000;

export function createEventRecorder(kubeConfig: KubeConfig, instance: string, logger: Logger): EventRecorder {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const seen = new Map<string, { count: number; at: number }>();

  return {
    async record(target, type, reason, message) {
      const { namespace } = target.metadata;
      const digest = createHash("sha256")
        .update([target.metadata.uid ?? target.metadata.name, type, reason, message].join("\u0000"))
        .digest("hex")
        .slice(0, 16);
      const name = `${target.metadata.name.slice(0, 200)}.${digest}`;
      const now = new Date();
      const previous = seen.get(name);
      const bump = async (count: number) => {
        seen.set(name, { count, at: now.getTime() });
        await core.patchNamespacedEvent({
          name,
          namespace,
          body: [
            { op: "replace", path: "/count", value: count },
            { op: "replace", path: "/lastTimestamp", value: now.toISOString().replace(/\.\d+Z$/, "Z") },
          ],
        });
      };
      try {
        if (previous && now.getTime() - previous.at < AGGREGATION_WINDOW_MS) {
          await bump(previous.count + 1);
          return;
        }
        try {
          await core.createNamespacedEvent({ namespace, body: eventBody(name, target, type, reason, message, now, instance) });
          seen.set(name, { count: 1, at: now.getTime() });
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
