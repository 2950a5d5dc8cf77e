// The JSON Patch that makes every webhook of our MutatingWebhookConfiguration
// trust the CA bundle, or nothing when all already do. Pure.
//
// The patch starts with a test of metadata.resourceVersion: the indices it
// names are those of the object it was computed from, and if anyone changed
// the object since (a `helm upgrade` re-applying it, say), the API server
// refuses the whole patch and we compute it again from the new object.

export interface WebhookConfigurationView {
  readonly resourceVersion: string;
  readonly webhooks: readonly { readonly name: string; readonly caBundle: string | undefined }[];
}

export type CaBundlePatchOperation =
  | { readonly op: "test"; readonly path: string; readonly value: string }
  | { readonly op: "add"; readonly path: string; readonly value: string };

/** caBundle as the API stores it: the PEM bundle, base64-encoded. */
export function encodeCaBundle(bundlePem: string): string {
  return Buffer.from(bundlePem, "utf8").toString("base64");
}

export function caBundlePatch(configuration: WebhookConfigurationView, bundlePem: string): CaBundlePatchOperation[] {
  const wanted = encodeCaBundle(bundlePem);
  const operations: CaBundlePatchOperation[] = [];
  configuration.webhooks.forEach((webhook, index) => {
    // "add" sets a member whether or not it exists (RFC 6902 4.1).
    if (webhook.caBundle !== wanted) operations.push({ op: "add", path: `/webhooks/${index}/clientConfig/caBundle`, value: wanted });
  });
  if (operations.length === 0) return [];
  return [{ op: "test", path: "/metadata/resourceVersion", value: configuration.resourceVersion }, ...operations];
}

/** The webhooks whose caBundle differs from the bundle (for logs). */
export function staleWebhooks(configuration: WebhookConfigurationView, bundlePem: string): string[] {
  const wanted = encodeCaBundle(bundlePem);
  return configuration.webhooks.filter((webhook) => webhook.caBundle !== wanted).map((webhook) => webhook.name);
}
