// The webhook server's HTTP paths: the MutatingWebhookConfiguration and the
// chart's probes point at these.
export const MUTATE_PODS_PATH = "/mutate-pods";
export const HEALTHZ_PATH = "/healthz";
/** Ready once the grant cache has synced: a replica that cannot decide yet gets no traffic. */
export const READYZ_PATH = "/readyz";
