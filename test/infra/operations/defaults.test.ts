import { requestLogFilter } from "../../../infra/ingest/requestLogExport";
import { BASE_CONFIG, grants, only, ofType, ProgramRun, runProgram, SINK_WRITER, TEST_PROJECT } from "../../../testkit/pulumiProgram";

// A fresh stack: archive, _Default exclusion and monitoring on; no e-mail; no edge policy.
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram(BASE_CONFIG);
});

const archiveBucket = () => only(run, "gcp:storage/bucket:Bucket", (bucket) => bucket.name === "pixel-archive-bucket");
const servingRule = () => only(run, "gcp:compute/globalForwardingRule:GlobalForwardingRule");
const pipelineFilter = () => requestLogFilter(servingRule().state.name);
const pushSubscription = () => only(run, "gcp:pubsub/subscription:Subscription", (subscription) => subscription.inputs.pushConfig !== undefined);
const deadLetterSubscription = () => only(run, "gcp:pubsub/subscription:Subscription", (subscription) => subscription.inputs.pushConfig === undefined);
const collectorService = () => only(run, "gcp:cloudfunctionsv2/function:Function").state.serviceConfig.service as string;
const logMetric = (name: string) => only(run, "gcp:logging/metric:Metric", (metric) => metric.name === name);

describe("raw archive", () => {
  test("a second sink writes the same entries as the Pub/Sub sink to the archive bucket", () => {
    const sinks = ofType(run, "gcp:logging/projectSink:ProjectSink");
    expect(sinks.map((sink) => [sink.name, sink.inputs.filter])).toEqual(
      expect.arrayContaining([
        ["pixel-logs-sink", pipelineFilter()],
        ["pixel-archive-sink", pipelineFilter()],
      ]),
    );
    expect(only(run, "gcp:logging/projectSink:ProjectSink", (sink) => sink.name === "pixel-archive-sink").inputs).toMatchObject({
      destination: `storage.googleapis.com/${archiveBucket().state.name}`,
      uniqueWriterIdentity: true,
    });
  });

  test("the bucket is private, in the stack's region, Coldline after 30 days and deleted with the default retention", () => {
    expect(archiveBucket().inputs).toMatchObject({
      location: "europe-west1",
      uniformBucketLevelAccess: true,
      publicAccessPrevention: "enforced",
      lifecycleRules: [
        { action: { type: "SetStorageClass", storageClass: "COLDLINE" }, condition: { age: 30, matchesStorageClasses: ["STANDARD"] } },
        { action: { type: "Delete" }, condition: { age: 760 } },
        { action: { type: "Delete" }, condition: { daysSinceCustomTime: 760 } },
      ],
      softDeletePolicy: { retentionDurationSeconds: 7 * 24 * 60 * 60 },
    });
  });

  test("nobody but the sink is granted anything on it, and the sink may only add objects", () => {
    const onArchive = grants(run).filter((grant) => grant.inputs.bucket === archiveBucket().state.name);
    expect(onArchive.map((grant) => [grant.inputs.role, grant.inputs.member])).toEqual([["roles/storage.objectCreator", SINK_WRITER]]);
  });

  test("follows deletion protection: this stack has it off, so destroy may delete the archived logs", () => {
    expect(archiveBucket().inputs.forceDestroy).toBe(true);
  });
});

describe("the _Default log bucket", () => {
  test("excludes exactly the exported request logs", () => {
    const exclusion = only(run, "gcp:logging/projectExclusion:ProjectExclusion");
    expect(exclusion.inputs.filter).toBe(pipelineFilter());
    expect(exclusion.inputs.disabled).toBeUndefined();
  });
});

describe("monitoring", () => {
  test("counts pixel requests by tenant from the load balancer's logs", () => {
    const metric = logMetric("pixel-monitoring-pixel-requests");
    expect(metric.inputs.filter).toMatch(new RegExp(`^${pipelineFilter().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} AND httpRequest.requestMethod="GET"`));
    expect(metric.inputs.filter).toContain("/pixel[.]png([?#]|$)");
    expect(metric.inputs.labelExtractors).toEqual({ tenant: 'REGEXP_EXTRACT(httpRequest.requestUrl, "[?&]user_id=([^&#]*)")' });
    expect(metric.inputs.metricDescriptor).toMatchObject({ metricKind: "DELTA", valueType: "INT64", labels: [{ key: "tenant", valueType: "STRING" }] });
  });

  test("counts the function's refusals and failed writes by reason", () => {
    const metric = logMetric("pixel-monitoring-refusals");
    const service = collectorService().split("/").at(-1);
    expect(metric.inputs.filter).toBe(`resource.type="cloud_run_revision" AND resource.labels.service_name="${service}" AND jsonPayload.reason:*`);
    expect(metric.inputs.labelExtractors).toEqual({ reason: "EXTRACT(jsonPayload.reason)" });
  });

  const policy = (key: string) => only(run, "gcp:monitoring/alertPolicy:AlertPolicy", (candidate) => candidate.name === `pixel-monitoring-${key}`);

  test("alerts on function errors, dead letters and backlog age, without a notification channel", () => {
    expect(ofType(run, "gcp:monitoring/alertPolicy:AlertPolicy")).toHaveLength(3);
    expect(["function-errors", "dead-letters", "backlog-age"].map((key) => policy(key).inputs.displayName)).toEqual([
      "Pixel function failing (dev)",
      "Pixel dead letters waiting (dev)",
      "Pixel delivery backlog (dev)",
    ]);
    expect(ofType(run, "gcp:monitoring/notificationChannel:NotificationChannel")).toEqual([]);
    for (const alert of ofType(run, "gcp:monitoring/alertPolicy:AlertPolicy")) {
      expect(alert.inputs).toMatchObject({ combiner: "OR", notificationChannels: [], documentation: { mimeType: "text/markdown" } });
      expect(alert.inputs.conditions).toHaveLength(1);
    }
  });

  test("the alerts watch this stack's function and subscriptions", () => {
    const condition = (key: string) => policy(key).inputs.conditions[0].conditionThreshold;
    const short = (id: string) => id.split("/").at(-1);
    expect(condition("function-errors").filter).toContain(`resource.label.service_name="${short(collectorService())}"`);
    expect(condition("dead-letters").filter).toContain(`resource.label.subscription_id="${short(deadLetterSubscription().id)}"`);
    expect(condition("backlog-age").filter).toContain(`resource.label.subscription_id="${short(pushSubscription().id)}"`);
    expect(condition("backlog-age").thresholdValue).toBe(30 * 60);
  });

  test("the dashboard charts this stack's metrics", () => {
    const dashboard = JSON.parse(only(run, "gcp:monitoring/dashboard:Dashboard").inputs.dashboardJson);
    const filters = dashboard.mosaicLayout.tiles.map((tile: { widget: { xyChart: { dataSets: { timeSeriesQuery: { timeSeriesFilter: { filter: string } } }[] } } }) => tile.widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.filter);
    expect(filters).toEqual(
      expect.arrayContaining([
        `metric.type="logging.googleapis.com/user/${logMetric("pixel-monitoring-pixel-requests").state.name}"`,
        `metric.type="logging.googleapis.com/user/${logMetric("pixel-monitoring-refusals").state.name}"`,
      ]),
    );
  });

  test("the Monitoring API is enabled with the others", () => {
    expect(ofType(run, "gcp:projects/service:Service").map((service) => service.inputs.service)).toContain("monitoring.googleapis.com");
  });
});

describe("no edge policy by default", () => {
  test("no security policy, and the backend bucket has none", () => {
    expect(ofType(run, "gcp:compute/securityPolicy:SecurityPolicy")).toEqual([]);
    expect(only(run, "gcp:compute/backendBucket:BackendBucket").inputs.edgeSecurityPolicy).toBeUndefined();
  });
});

describe("outputs", () => {
  test("name the archive bucket as a gs:// URL for npm run replay, and link the dashboard", () => {
    expect(run.outputs.archiveBucket).toBe(`gs://${archiveBucket().state.name}`);
    expect(run.outputs.dashboardUrl).toBe(`https://console.cloud.google.com/monitoring/dashboards/custom/pixel-monitoring-dashboard-id?project=${TEST_PROJECT}`);
  });

  test("every operations resource waits for the APIs", () => {
    const lastApi = Math.max(...run.resources.flatMap((resource, index) => (resource.type === "gcp:projects/service:Service" ? [index] : [])));
    const operations = run.resources.filter((resource) => /^pixel-(archive|monitoring)/.test(resource.name) || resource.type === "gcp:logging/projectExclusion:ProjectExclusion");
    expect(operations.length).toBeGreaterThan(8);
    expect(operations.every((resource) => run.resources.indexOf(resource) > lastApi)).toBe(true);
  });
});
