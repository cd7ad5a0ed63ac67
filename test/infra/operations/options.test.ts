import { BASE_CONFIG, only, ofType, ProgramRun, runProgram } from "../../../testkit/pulumiProgram";

// Every operations option set: e-mail alerts, a longer backlog, deletion after a year, an edge policy,
// and deletion protection on.
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({
    ...BASE_CONFIG,
    "pixel-pipeline:deletionProtection": "true",
    "pixel-pipeline:alertEmail": "oncall@example.com",
    "pixel-pipeline:alertBacklogMinutes": "60",
    "pixel-pipeline:archiveColdAfterDays": "14",
    "pixel-pipeline:archiveDeleteAfterDays": "365",
    "pixel-pipeline:edgeDeniedIpRanges": JSON.stringify(["203.0.113.0/24", "2001:db8::/32"]),
    "pixel-pipeline:edgeDeniedRegions": JSON.stringify(["KP"]),
  });
});

test("alerts go to an e-mail notification channel", () => {
  const channel = only(run, "gcp:monitoring/notificationChannel:NotificationChannel");
  expect(channel.inputs).toMatchObject({ type: "email", labels: { email_address: "oncall@example.com" } });
  const policies = ofType(run, "gcp:monitoring/alertPolicy:AlertPolicy");
  expect(policies).toHaveLength(3);
  expect(policies.every((policy) => policy.inputs.notificationChannels.length === 1 && policy.inputs.notificationChannels[0] === channel.id)).toBe(true);
});

test("the backlog alert uses the configured age", () => {
  const backlog = only(run, "gcp:monitoring/alertPolicy:AlertPolicy", (policy) => policy.name === "pixel-monitoring-backlog-age");
  expect(backlog.inputs.conditions[0].conditionThreshold.thresholdValue).toBe(60 * 60);
});

test("the archive turns cold after 14 days, is deleted after a year, and survives destroy under deletion protection", () => {
  const archive = only(run, "gcp:storage/bucket:Bucket", (bucket) => bucket.name === "pixel-archive-bucket");
  expect(archive.inputs.lifecycleRules).toEqual([
    { action: { type: "SetStorageClass", storageClass: "COLDLINE" }, condition: { age: 14, matchesStorageClasses: ["STANDARD"] } },
    { action: { type: "Delete" }, condition: { age: 365 } },
    { action: { type: "Delete" }, condition: { daysSinceCustomTime: 365 } },
  ]);
  expect(archive.inputs.forceDestroy).toBe(false);
});

test("an edge security policy denies the listed ranges and regions and is attached to the backend bucket", () => {
  const policy = only(run, "gcp:compute/securityPolicy:SecurityPolicy");
  expect(policy.inputs.type).toBe("CLOUD_ARMOR_EDGE");
  expect(policy.inputs.rules.map((rule: { action: string; match: unknown }) => [rule.action, rule.match])).toEqual([
    ["deny(403)", { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["203.0.113.0/24", "2001:db8::/32"] } }],
    ["deny(403)", { expr: { expression: "origin.region_code == 'KP'" } }],
    ["allow", { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } }],
  ]);
  expect(only(run, "gcp:compute/backendBucket:BackendBucket").inputs.edgeSecurityPolicy).toBe(policy.id);
});
