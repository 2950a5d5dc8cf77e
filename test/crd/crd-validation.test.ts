// The API server itself rejects invalid grants, with a message naming the
// field: the CRD's OpenAPI schema and CEL rules, on a real kube-apiserver.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { KubeConfig } from "@kubernetes/client-node";
import { adminKubeConfig } from "../harness/cluster.js";
import { createGrant, createNamespace, deleteNamespace, getGrant, grantSpec, rejection, TEST_ORG_UUID } from "../harness/kube.js";
import type { GrantSpec } from "../../src/shared/grant.js";

let kc: KubeConfig;
let namespace: string;
let counter = 0;

beforeAll(async () => {
  kc = adminKubeConfig(inject("cluster"));
  namespace = await createNamespace(kc, { prefix: "crd" });
});
afterAll(async () => {
  await deleteNamespace(kc, namespace);
});

const aws = (fields: Partial<GrantSpec["aws"]>) => grantSpec({ aws: { roleArn: "arn:aws:iam::123456789012:role/ok", ...fields } });
const datadog = (fields: Partial<GrantSpec["datadog"]>) => grantSpec({ datadog: { orgUuid: TEST_ORG_UUID, ...fields } });
const create = (spec: GrantSpec) => createGrant(kc, namespace, `g${(counter += 1)}`, spec);

describe("the DatadogCredentialGrant schema", () => {
  it.each([
    ["a partition that does not exist", "arn:aws-moon:iam::123456789012:role/x"],
    ["an account that is not 12 digits", "arn:aws:iam::12345:role/x"],
    ["a user instead of a role", "arn:aws:iam::123456789012:user/x"],
    ["a role name with a space", "arn:aws:iam::123456789012:role/bad name"],
    ["an STS assumed-role ARN", "arn:aws:sts::123456789012:assumed-role/x/session"],
  ])("rejects a role ARN with %s, naming spec.aws.roleArn", async (_, roleArn) => {
    const message = await rejection(() => create(aws({ roleArn })));
    expect(message).toContain("spec.aws.roleArn");
    expect(message).toContain("must be an IAM role ARN");
  });

  it.each([
    ["shorter than 15 minutes", "14m", "must be between 15m and 12h"],
    ["longer than 12 hours", "12h1s", "must be between 15m and 12h"],
    ["not a duration", "one hour", "must be a duration"],
  ])("rejects a session duration %s, naming spec.aws.sessionDuration", async (_, sessionDuration, why) => {
    const message = await rejection(() => create(aws({ sessionDuration })));
    expect(message).toContain("spec.aws.sessionDuration");
    expect(message).toContain(why);
  });

  it.each(["uk1.datadoghq.com", "us2.ddog-gov.com", "datad0g.com"] as const)("accepts the Datadog site %s", async (site) => {
    const created = await create(datadog({ site }));
    expect((await getGrant(kc, namespace, created.metadata.name)).spec.datadog.site).toBe(site);
  });

  it("rejects an unknown Datadog site, listing the supported ones", async () => {
    const message = await rejection(() => create(datadog({ site: "datadoghq.example" as never })));
    expect(message).toContain("spec.datadog.site");
    expect(message).toContain("us5.datadoghq.com");
  });

  it("rejects an org UUID that is not a UUID, naming spec.datadog.orgUuid", async () => {
    const message = await rejection(() => create(datadog({ orgUuid: "my-org" })));
    expect(message).toContain("spec.datadog.orgUuid");
    expect(message).toContain("must be a UUID");
  });

  it.each([["a space", "two words"], ["a quote", 'x"y'], ["a semicolon", "a;b"]])(
    "rejects an external ID with %s, naming spec.aws.externalId",
    async (_, externalId) => {
      const message = await rejection(() => create(aws({ externalId })));
      expect(message).toContain("spec.aws.externalId");
      expect(message).toContain("may contain only");
    },
  );

  it("rejects a region outside the role's partition", async () => {
    const message = await rejection(() => create(aws({ roleArn: "arn:aws-cn:iam::123456789012:role/x", region: "us-east-1" })));
    expect(message).toContain("spec.aws.region");
  });

  it("rejects a grant that asks for neither a token nor an intake key", async () => {
    const message = await rejection(() => create(datadog({ apiToken: false, intakeKey: false })));
    expect(message).toContain("spec.datadog");
    expect(message).toContain("at least one of apiToken and intakeKey");
  });

  it("rejects an In expression without values, naming the expression", async () => {
    const message = await rejection(() => create(grantSpec({ podSelector: { matchExpressions: [{ key: "app", operator: "In" }] } })));
    expect(message).toContain("spec.podSelector.matchExpressions[0]");
  });

  it("rejects a grant with neither a pod selector nor Ray workloads", async () => {
    const { podSelector: _omitted, ...rest } = grantSpec();
    const message = await rejection(() => create(rest as GrantSpec));
    expect(message).toContain("set podSelector, ray, or both");
  });

  it("accepts a grant that names Ray workloads instead of a pod selector", async () => {
    const { podSelector: _omitted, ...rest } = grantSpec();
    const created = await create({ ...rest, ray: { rayJobs: ["rayjob-sample"] } });
    const stored = await getGrant(kc, namespace, created.metadata.name);
    expect(stored.spec.podSelector).toBeUndefined();
    expect(stored.spec.ray).toEqual({ rayJobs: ["rayjob-sample"], rayClusters: [], rayServices: [] });
  });

  it("rejects a ray field that names no workload, and a workload name that is no Kubernetes name", async () => {
    expect(await rejection(() => create(grantSpec({ ray: {} })))).toContain("name at least one RayJob, RayCluster or RayService");
    expect(await rejection(() => create(grantSpec({ ray: { rayClusters: ["Not_A_Name"] } })))).toContain("spec.ray.rayClusters[0]");
  });

  it("accepts a valid grant in every partition and fills in the documented defaults", async () => {
    for (const [roleArn, region] of [
      ["arn:aws:iam::123456789012:role/team/ray-runner", undefined],
      ["arn:aws-cn:iam::123456789012:role/x", "cn-north-1"],
      ["arn:aws-us-gov:iam::123456789012:role/x", "us-gov-west-1"],
    ] as const) {
      const created = await create(aws({ roleArn, ...(region ? { region } : {}), externalId: "ext-id:42/a@b" }));
      expect(created.spec.aws.roleArn).toBe(roleArn);
    }
    const created = await create(grantSpec());
    const stored = await getGrant(kc, namespace, created.metadata.name);
    expect(stored.spec.aws).toMatchObject({ region: "us-east-1", sessionDuration: "1h", exposeToWorkload: true });
    expect(stored.spec.datadog).toMatchObject({ site: "datadoghq.com", apiToken: true, intakeKey: false });
  });

  it("accepts the edges of the session duration range", async () => {
    await expect(create(aws({ sessionDuration: "15m" }))).resolves.toBeTruthy();
    await expect(create(aws({ sessionDuration: "12h" }))).resolves.toBeTruthy();
    await expect(create(aws({ sessionDuration: "1h30m" }))).resolves.toBeTruthy();
  });
});
