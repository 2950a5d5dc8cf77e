// The agent a grant gives a pod today, as a fingerprint: what the webhook
// compares an incoming pod's agent with before converging it, and what the
// controller compares live pods' agents with before counting them.
import { agentFingerprint } from "../shared/injected-agent.js";
import { resolveGrantSpec, type Grant } from "../shared/grant.js";
import { CREDENTIALS_VOLUME_NAME } from "../shared/names.js";
import { agentContainer } from "./agent-container.js";
import { credentialsVolume } from "./credentials-volume.js";
import type { InjectionSettings } from "./settings.js";

// Informer caches hand out the same grant object until it changes.
const memo = new WeakMap<InjectionSettings, WeakMap<Grant, string>>();

export function expectedAgentFingerprint(grant: Grant, settings: InjectionSettings): string {
  let forSettings = memo.get(settings);
  if (!forSettings) memo.set(settings, (forSettings = new WeakMap()));
  let fingerprint = forSettings.get(grant);
  if (fingerprint === undefined) {
    const agent = agentContainer({
      grantName: grant.metadata.name,
      spec: resolveGrantSpec(grant.spec),
      settings,
      volumeName: CREDENTIALS_VOLUME_NAME,
    });
    fingerprint = agentFingerprint(agent, [credentialsVolume(CREDENTIALS_VOLUME_NAME, settings.volumeSizeLimit)]);
    forSettings.set(grant, fingerprint);
  }
  return fingerprint;
}
