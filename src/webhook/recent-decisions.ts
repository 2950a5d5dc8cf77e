// Replicas of one template (a ReplicaSet or KubeRay scaling up) reach the
// webhook as reviews identical but for their uid. The decision for the last
// few such bodies is kept, and reused while the grants it was decided
// against are still the very same objects in the informer cache: the
// mutation is a pure function of the pod, those grants and the settings.
import type { Grant } from "../shared/grant.js";
import type { MutationResult } from "./mutate-pod.js";

export interface RecentDecision {
  readonly result: MutationResult;
  /** The patch as the response carries it: base64 of its JSON. */
  readonly encodedPatch: string | undefined;
}

interface Entry extends RecentDecision {
  readonly key: string;
  readonly grants: readonly Grant[];
}

/**
 * A cheap fingerprint of a key: its length and every 16th character. A Map
 * keyed by the key itself would hash all of it (some 10 µs for a 10 KiB
 * review); a collision here only costs a string comparison, which decides.
 */
function sampleHash(key: string): number {
  let hash = key.length | 0;
  for (let i = 0; i < key.length; i += 16) hash = (Math.imul(hash, 31) + key.charCodeAt(i)) | 0;
  return hash;
}

/** What must precede the request's uid, the first "uid" of a review (the API server writes it first). */
const BEFORE_UID = /"request"\s*:\s*\{\s*$/;
const UID_FIELD = /^"uid"\s*:\s*"([A-Za-z0-9-]{1,128})"/;

export class RecentDecisions {
  /** By sampleHash of the key, least recently used first. */
  private readonly entries = new Map<number, Entry>();

  /**
   * @param capacity bodies kept, least recently used dropped first
   * @param maxBodyLength longer bodies are never kept: memory stays within capacity × this
   */
  constructor(
    private readonly capacity = 64,
    private readonly maxBodyLength = 64 * 1024,
  ) {}

  /**
   * The body without its uid: the key two replicas' reviews share. Only the
   * first "uid" of the body, right at the start of its request, is taken out,
   * and only when it is the uid the request was decoded with, so two bodies
   * share a key only when they decode to the same request but for the uid.
   * Undefined when the body is not worth keeping or not laid out that way.
   */
  keyOf(body: string, uid: string): string | undefined {
    if (body.length > this.maxBodyLength) return undefined;
    const at = body.indexOf('"uid"');
    if (at < 0 || !BEFORE_UID.test(body.slice(Math.max(0, at - 64), at))) return undefined;
    const field = UID_FIELD.exec(body.slice(at, at + 160));
    if (!field || field[1] !== uid) return undefined;
    return body.slice(0, at) + body.slice(at + field[0].length);
  }

  get(key: string, grants: readonly Grant[]): RecentDecision | undefined {
    const hash = sampleHash(key);
    const entry = this.entries.get(hash);
    if (!entry || entry.key !== key) return undefined;
    this.entries.delete(hash);
    if (entry.grants.length !== grants.length || entry.grants.some((grant, index) => grant !== grants[index])) return undefined;
    this.entries.set(hash, entry);
    return entry;
  }

  set(key: string, grants: readonly Grant[], decision: RecentDecision): void {
    const hash = sampleHash(key);
    this.entries.delete(hash);
    this.entries.set(hash, { ...decision, key, grants });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as number);
  }
}
