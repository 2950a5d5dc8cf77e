// Where the admission path reads grants from: the operator's informer cache
// (src/shared/kube) implements this. Reading it never calls the API server,
// so admission stays within its time budget whatever the API server does.
import type { Grant } from "../shared/grant.js";

export interface GrantCache {
  /** The grants of one namespace as last seen by the watch; the same objects until they change. */
  grantsInNamespace(namespace: string): readonly Grant[];
  /** Whether the first list has completed: before it, "no grant" means "not known yet". */
  hasSynced(): boolean;
  /** Resolves true once synced, or false when `timeoutMs` passes first. */
  waitForSync(timeoutMs: number): Promise<boolean>;
}
