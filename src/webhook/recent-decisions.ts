// Replicas of one template (a ReplicaSet or KubeRay scaling up) reach the
// webhook as reviews identical but for their uid. The decision for the last
// few such bodies is kept, with its answer already serialized, and reused
// while the grants it was decided against are still the very same objects in
// the informer cache and the settings the very same: the mutation is a pure
// function of the pod, those grants and the settings.
//
// A body matches a kept one when it equals it character for character but
// for the value of the request's uid, in the same place. A body that matches
// is decoded before its decision is reused until two matching bodies have
// decoded to two different uids: that shows the place is where the
// request's uid comes from (not a nested object's uid, nor an earlier
// duplicate key JSON.parse overrides). From then on a body that matches is
// answered without being parsed, as is the very body a decision was made
// for (a retry): it is valid JSON that decodes to the same request but for
// that uid, since the same characters before the uid leave the parser in the
// same state, and a string of letters, digits and dashes, in JSON's own
// whitespace, changes no token around it. Parsing a 10 KiB review is most of
// what answering a replica costs otherwise.
import type { Grant } from "../shared/grant.js";
import type { GrantCache } from "./grant-cache.js";
import type { MutationResult } from "./mutate-pod.js";
import type { InjectionSettings } from "./settings.js";

export interface RecentDecision {
  readonly result: MutationResult;
  /** The patch as the response carries it: base64 of its JSON. */
  readonly encodedPatch: string | undefined;
}

/** What an answer needs of the request besides its uid. */
export interface RememberedRequest {
  readonly namespace: string;
  /** The pod as the decision's log line names it. */
  readonly pod: string;
  readonly dryRun: boolean;
}

export interface RememberedDecision extends RecentDecision {
  readonly request: RememberedRequest;
  /** The answer's JSON after its uid: the JSON of the whole answer is its head, the uid as a JSON string, then this. */
  readonly answerTail: string;
  /** Its length in UTF-8. */
  readonly answerTailBytes: number;
}

export interface RecalledDecision {
  /** The request's uid, read from the body. */
  readonly uid: string;
  readonly decision: RememberedDecision;
  /** The namespace's grants, as the decision was made against them. */
  readonly grants: readonly Grant[];
}

interface UidField {
  /** Where `"uid":"…"` starts, and where it ends. */
  readonly at: number;
  readonly end: number;
  readonly uid: string;
}

interface Entry extends RememberedDecision {
  /** The body before the uid field and after it (slices of the body first decided). */
  readonly head: string;
  readonly tail: string;
  /** The uid of the body first decided. */
  readonly uid: string;
  /** Its key in the map: sampleHash of that body. */
  readonly hash: number;
  readonly grants: readonly Grant[];
  readonly settings: InjectionSettings;
  /** Whether a matching body has decoded to another uid: see the top of this file. */
  verified: boolean;
}

/** What must precede the request's uid, the first "uid" of a review (the API server writes it first). */
const BEFORE_UID = /"request"\s*:\s*\{\s*$/;
/** Only JSON's own whitespace (\s would take spaces JSON.parse refuses): any such field reads as one key and one string. */
const UID_FIELD = /^"uid"[ \t\n\r]*:[ \t\n\r]*"([A-Za-z0-9-]{1,128})"/;

/**
 * A cheap fingerprint of a body but for its uid field: its length and every
 * 16th character on either side. Hashing all of a 10 KiB body would cost
 * some 10 µs; a collision here only costs a string comparison, which decides.
 */
function sampleHash(body: string, field: UidField): number {
  let hash = (body.length - (field.end - field.at)) | 0;
  for (let i = 0; i < field.at; i += 16) hash = (Math.imul(hash, 31) + body.charCodeAt(i)) | 0;
  for (let i = field.end; i < body.length; i += 16) hash = (Math.imul(hash, 31) + body.charCodeAt(i)) | 0;
  return hash;
}

function sameGrants(a: readonly Grant[], b: readonly Grant[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class RecentDecisions {
  /** By sampleHash, least recently used first. */
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
   * The body without its uid: what two replicas' reviews share. Only the
   * first "uid" of the body, right at the start of its request, is taken out,
   * and only when it is the uid the request was decoded with. Undefined when
   * the body is not worth keeping or not laid out that way.
   */
  keyOf(body: string, uid: string): string | undefined {
    const field = this.uidField(body);
    if (!field || field.uid !== uid) return undefined;
    return body.slice(0, field.at) + body.slice(field.end);
  }

  /**
   * The decision kept for a body equal to this one but for the request's
   * uid, shown to be answerable without parsing the body (see the top of
   * this file), while `settings` and the grants `grants` holds for its
   * namespace are the very objects it was made with; undefined otherwise (a
   * stale one is dropped).
   */
  recall(body: string, grants: GrantCache, settings: InjectionSettings): RecalledDecision | undefined {
    if (this.entries.size === 0) return undefined;
    const field = this.uidField(body);
    const entry = field && this.find(body, field);
    // Unverified, only the very body it was decided for (a retry) is answered unparsed.
    if (!field || !entry || !(entry.verified || field.uid === entry.uid)) return undefined;
    const current = grants.grantsInNamespace(entry.request.namespace);
    return this.stillValid(entry, current, settings) ? { uid: field.uid, decision: entry, grants: current } : undefined;
  }

  /**
   * The decision kept for a body equal to this one but for the request's
   * uid, which it was decoded with, while `grants` (its namespace's) and
   * `settings` are the very objects it was made with.
   */
  reuse(body: string, uid: string, grants: readonly Grant[], settings: InjectionSettings): RememberedDecision | undefined {
    if (this.entries.size === 0) return undefined;
    const field = this.uidField(body);
    const entry = field?.uid === uid ? this.find(body, field) : undefined;
    if (!entry || !this.stillValid(entry, grants, settings)) return undefined;
    // Two bodies alike but for this place decoded to two uids: it is the request's uid.
    if (uid !== entry.uid) entry.verified = true;
    return entry;
  }

  /** Keeps the decision for `body`, which decoded to a request with `uid`, made against `grants` (its namespace's) and `settings`. */
  remember(body: string, uid: string, grants: readonly Grant[], settings: InjectionSettings, decision: RememberedDecision): void {
    if (this.capacity <= 0) return;
    const field = this.uidField(body);
    if (!field || field.uid !== uid) return;
    const hash = sampleHash(body, field);
    this.entries.delete(hash);
    this.entries.set(hash, { ...decision, head: body.slice(0, field.at), tail: body.slice(field.end), uid, hash, grants, settings, verified: false });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as number);
  }

  /** The entry of a body equal to this one but for its uid field, made the most recently used. */
  private find(body: string, field: UidField): Entry | undefined {
    const hash = sampleHash(body, field);
    const entry = this.entries.get(hash);
    if (
      !entry ||
      entry.head.length !== field.at ||
      entry.tail.length !== body.length - field.end ||
      body.slice(0, field.at) !== entry.head ||
      body.slice(field.end) !== entry.tail
    ) {
      return undefined;
    }
    this.entries.delete(hash);
    this.entries.set(hash, entry);
    return entry;
  }

  /** Whether the entry was decided with these very grants and settings; dropped when not. */
  private stillValid(entry: Entry, grants: readonly Grant[], settings: InjectionSettings): boolean {
    if (entry.settings === settings && sameGrants(entry.grants, grants)) return true;
    if (this.entries.get(entry.hash) === entry) this.entries.delete(entry.hash);
    return false;
  }

  /** The first "uid" of the body, when it opens a "request" object and holds a plain uid. */
  private uidField(body: string): UidField | undefined {
    if (body.length > this.maxBodyLength) return undefined;
    const at = body.indexOf('"uid"');
    if (at < 0 || !BEFORE_UID.test(body.slice(Math.max(0, at - 64), at))) return undefined;
    const field = UID_FIELD.exec(body.slice(at, at + 160));
    if (!field) return undefined;
    return { at, end: at + field[0].length, uid: field[1] as string };
  }
}
