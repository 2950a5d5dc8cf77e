// The STS hosts that exist, by partition, and the signing region each one
// takes. Datadog replays a proof against the host it names, so a proof for a
// host that does not exist (sts.cn-north-1.amazonaws.com: China lives under
// amazonaws.com.cn; sts.amazonaws.com.cn: China has no global endpoint) can
// never verify, and STS refuses a signature scoped to another region than the
// host's ("Credential should be scoped to a valid region"). The regions are
// those the AWS SDK's partition data lists for the partitions a grant may
// name (aws, aws-cn, aws-us-gov).

const AWS_REGIONS = [
  "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
  "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
  "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2",
  "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "me-west-1", "mx-central-1", "sa-east-1", "sa-west-1", "us-east-1",
  "us-east-2", "us-west-1", "us-west-2",
] as const;
const CHINA_REGIONS = ["cn-north-1", "cn-northwest-1"] as const;
const GOV_CLOUD_REGIONS = ["us-gov-east-1", "us-gov-west-1"] as const;
/** Regions with a separate FIPS endpoint (GovCloud's regional endpoints are FIPS already). */
const FIPS_REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2"] as const;

function stsHostTable(): ReadonlyMap<string, string> {
  const table = new Map<string, string>([["sts.amazonaws.com", "us-east-1"]]);
  for (const region of [...AWS_REGIONS, ...GOV_CLOUD_REGIONS]) table.set(`sts.${region}.amazonaws.com`, region);
  for (const region of CHINA_REGIONS) table.set(`sts.${region}.amazonaws.com.cn`, region);
  for (const region of FIPS_REGIONS) table.set(`sts-fips.${region}.amazonaws.com`, region);
  return table;
}

const STS_HOSTS = stsHostTable();

/** The region a signature for this STS host must be scoped to; undefined when no such STS host exists. */
export function signingRegionOfStsHost(hostname: string): string | undefined {
  return STS_HOSTS.get(hostname.toLowerCase());
}
