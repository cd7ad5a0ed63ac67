import { ARCHIVE_OBJECT_DEAD_REASON, LOAD_LEDGER_SCHEMA, LOAD_LEDGER_TABLE } from "../../../core/batchLoad";
import { parseCoreSettingsJson } from "../../../core/config/coreSettings";
import {
  ARCHIVE_BUCKET_VARIABLE,
  DATASET_LOCATION_VARIABLE,
  DATASET_VARIABLE,
  LOADER_ENTRY_POINT,
  SETTINGS_VARIABLE,
  SWEEP_ENTRY_POINT,
} from "../../../core/functionContract";
import { EVENT_FUNCTION_TIMEOUT_SECONDS, OBJECT_FINALIZED_EVENT, PUBSUB_MESSAGE_EVENT } from "../../../infra/ingest/batchLoading";
import { BATCH_FUNCTION_ENTRY, bundleFunction, DEPLOYED_RUNTIME } from "../../../infra/ingest/functionBundle";
import { BATCH_APIS, REQUIRED_APIS } from "../../../infra/projectApis";
import {
  BASE_CONFIG,
  CapturedResource,
  grants,
  only,
  ofType,
  ProgramRun,
  runProgram,
  SINK_WRITER,
  STORAGE_AGENT_EMAIL,
  strings,
  TEST_PROJECT,
} from "../../../testkit/pulumiProgram";

// A batch stack under mocks: the raw archive's files are the source, so nothing is declared per event.
let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({ ...BASE_CONFIG, "pixel-pipeline:ingest": "batch", "pixel-pipeline:datasetLocation": "europe-west3" });
});

const fn = (entryPoint: string) => only(run, "gcp:cloudfunctionsv2/function:Function", (candidate) => candidate.inputs.buildConfig.entryPoint === entryPoint);
const loader = () => fn(LOADER_ENTRY_POINT);
const sweep = () => fn(SWEEP_ENTRY_POINT);
const account = (purpose: string) => only(run, "gcp:serviceaccount/account:Account", (sa) => sa.inputs.accountId === `pixel-dev-${purpose}`);
const archiveBucket = () => only(run, "gcp:storage/bucket:Bucket", (bucket) => bucket.name === "pixel-archive-bucket");
const grantsTo = (member: string) => grants(run).filter((grant) => grant.inputs.member === member);
/** A grant as what it lets whom do where: its type, the resource it is on, and the role. */
const described = (grant: CapturedResource) => [
  grant.type,
  grant.inputs.bucket ?? grant.inputs.datasetId ?? grant.inputs.secretId ?? grant.inputs.name ?? grant.inputs.project,
  grant.inputs.role,
];

describe("no per-event resources", () => {
  test("no request-log topic, no push subscription, no collector: the one topic is the sweep's, and no subscription is declared", () => {
    expect(ofType(run, "gcp:pubsub/topic:Topic").map((topic) => topic.name)).toEqual(["pixel-batch-sweep-topic"]);
    expect(ofType(run, "gcp:pubsub/subscription:Subscription")).toEqual([]);
    expect(run.resources.filter((resource) => ["pixel:infra:CollectorFunction", "pixel:infra:PushDelivery"].includes(resource.type))).toEqual([]);
    expect(ofType(run, "gcp:cloudfunctionsv2/function:Function").map((candidate) => candidate.inputs.buildConfig.entryPoint).sort()).toEqual([LOADER_ENTRY_POINT, SWEEP_ENTRY_POINT].sort());
  });

  test("the request logs go to the archive only, and stay out of the _Default bucket under the same filter", () => {
    const sink = only(run, "gcp:logging/projectSink:ProjectSink");
    expect(sink.inputs.destination).toBe(`storage.googleapis.com/${archiveBucket().state.name}`);
    const exclusion = only(run, "gcp:logging/projectExclusion:ProjectExclusion");
    expect(exclusion.inputs.filter).toBe(sink.inputs.filter);
    expect(exclusion.inputs.description).not.toMatch(/Pub\/Sub/);
    // The sinks' identity adds objects to the archive, and publishes nowhere.
    expect(grantsTo(SINK_WRITER).map(described)).toEqual([["gcp:storage/bucketIAMMember:BucketIAMMember", archiveBucket().state.name, "roles/storage.objectCreator"]]);
  });

  test("monitoring watches no subscription, and its alerts are the batch tier's", () => {
    const monitoring = run.resources.filter((resource) => resource.type.startsWith("gcp:monitoring/") || resource.type === "gcp:logging/metric:Metric");
    expect(monitoring.flatMap((resource) => strings(resource.inputs)).filter((text) => /pubsub_subscription|subscription_id/.test(text))).toEqual([]);
    expect(ofType(run, "gcp:monitoring/alertPolicy:AlertPolicy").map((policy) => policy.name).sort()).toEqual(["pixel-monitoring-archive-object-dead", "pixel-monitoring-loader-errors"]);
  });

  test("the stack outputs name no topic or dead-letter subscription, and name the archive", () => {
    expect(run.outputs.requestLogTopic).toBeUndefined();
    expect(run.outputs.deadLetterSubscription).toBeUndefined();
    expect(run.outputs.archiveBucket).toBe(`gs://${archiveBucket().state.name}`);
  });
});

describe("the loader", () => {
  test("runs the batch bundle on Node 22, uploaded under its content hash", () => {
    const bundle = bundleFunction(BATCH_FUNCTION_ENTRY);
    for (const candidate of [loader(), sweep()]) {
      expect(candidate.inputs.buildConfig.runtime).toBe(DEPLOYED_RUNTIME);
      const source = only(run, "gcp:storage/bucketObject:BucketObject", (object) => object.inputs.bucket === candidate.inputs.buildConfig.source.storageSource.bucket);
      expect(source.inputs).toMatchObject({ name: `${bundle.hash}.zip`, sourceMd5hash: bundle.archiveMd5 });
    }
    expect(bundle.hash).not.toBe(bundleFunction().hash);
  });

  test("is triggered by Eventarc on each object finalized in the archive bucket, with retries, as the trigger's own account", () => {
    expect(loader().inputs.eventTrigger).toEqual({
      eventType: OBJECT_FINALIZED_EVENT,
      eventFilters: [{ attribute: "bucket", value: archiveBucket().state.name }],
      retryPolicy: "RETRY_POLICY_RETRY",
      serviceAccountEmail: account("load-trigger").state.email,
    });
  });

  test("gets the settings, the dataset, its location and the archive bucket from the stack config, and the visitor key as a secret", () => {
    const { environmentVariables, secretEnvironmentVariables } = loader().inputs.serviceConfig;
    expect(environmentVariables).toEqual({
      [SETTINGS_VARIABLE]: expect.any(String),
      [DATASET_VARIABLE]: "pixel_dev",
      [DATASET_LOCATION_VARIABLE]: "europe-west3",
      [ARCHIVE_BUCKET_VARIABLE]: archiveBucket().state.name,
    });
    expect(parseCoreSettingsJson(environmentVariables[SETTINGS_VARIABLE]).attributes.map((attribute) => attribute.name)).toEqual(["user_id", "order_id", "type"]);
    expect(secretEnvironmentVariables).toEqual([expect.objectContaining({ key: "PIXEL_VISITOR_KEY", secret: "pixel-dev-batch-visitor-key" })]);
  });

  test("runs as its own account, which reads the archive bucket, writes the dataset, runs jobs and reads the visitor key: nothing else", () => {
    const runtime = account("loader");
    expect(loader().inputs.serviceConfig.serviceAccountEmail).toBe(runtime.state.email);
    expect(sweep().inputs.serviceConfig.serviceAccountEmail).toBe(runtime.state.email);
    expect(grantsTo(runtime.state.member).map(described).sort()).toEqual(
      [
        ["gcp:storage/bucketIAMMember:BucketIAMMember", archiveBucket().state.name, "roles/storage.objectViewer"],
        ["gcp:bigquery/datasetIamMember:DatasetIamMember", "pixel_dev", "roles/bigquery.dataEditor"],
        ["gcp:projects/iAMMember:IAMMember", TEST_PROJECT, "roles/bigquery.jobUser"],
        ["gcp:secretmanager/secretIamMember:SecretIamMember", "pixel-dev-batch-visitor-key", "roles/secretmanager.secretAccessor"],
      ].sort(),
    );
  });

  test("the trigger's account receives events and invokes the loader and the sweep, and nothing else", () => {
    const trigger = account("load-trigger");
    expect(grantsTo(trigger.state.member).map(described).sort()).toEqual(
      [
        ["gcp:projects/iAMMember:IAMMember", TEST_PROJECT, "roles/eventarc.eventReceiver"],
        ["gcp:cloudrunv2/serviceIamMember:ServiceIamMember", loader().state.serviceConfig.service, "roles/run.invoker"],
        ["gcp:cloudrunv2/serviceIamMember:ServiceIamMember", sweep().state.serviceConfig.service, "roles/run.invoker"],
      ].sort(),
    );
    // Nobody else may invoke either function.
    const invokers = grants(run).filter((grant) => grant.inputs.role === "roles/run.invoker");
    expect(invokers.map((grant) => grant.inputs.member)).toEqual([trigger.state.member, trigger.state.member]);
  });

  test("the Cloud Storage service agent may publish the bucket's notifications, and holds nothing else", () => {
    expect(grantsTo(`serviceAccount:${STORAGE_AGENT_EMAIL}`).map(described)).toEqual([["gcp:projects/iAMMember:IAMMember", TEST_PROJECT, "roles/pubsub.publisher"]]);
  });

  test("both functions are deployed after their accounts' grants have settled", () => {
    const [wait] = run.urns.filter(({ urn }) => urn.endsWith("pulumi-nodejs:dynamic:Resource::pixel-batch-grants"));
    for (const purpose of ["loader", "sweep"]) {
      const [deployed] = run.urns.filter(({ urn }) => urn.endsWith(`gcp:cloudfunctionsv2/function:Function::pixel-batch-${purpose}`));
      expect(deployed.dependencies).toContain(wait.urn);
    }
    expect(only(run, "pulumi-nodejs:dynamic:Resource", (resource) => resource.name === "pixel-batch-grants").inputs.trigger.split(", ")).toHaveLength(
      // Three build grants and the source reader, the runtime's three and the visitor key's, the event receiver and the storage agent's.
      4 + 3 + 1 + 2,
    );
  });

  test("both get the longest timeout an event-driven function may have", () => {
    expect([loader(), sweep()].map((candidate) => candidate.inputs.serviceConfig.timeoutSeconds)).toEqual([EVENT_FUNCTION_TIMEOUT_SECONDS, EVENT_FUNCTION_TIMEOUT_SECONDS]);
  });
});

describe("the sweep", () => {
  test("Cloud Scheduler publishes to its topic every hour, and the sweep runs on that topic's messages, once, without retries", () => {
    const topic = only(run, "gcp:pubsub/topic:Topic");
    const job = only(run, "gcp:cloudscheduler/job:Job");
    expect(job.inputs).toMatchObject({ schedule: "0 * * * *", timeZone: "Etc/UTC", region: "europe-west1", pubsubTarget: { topicName: topic.id } });
    expect(sweep().inputs.eventTrigger).toEqual({
      eventType: PUBSUB_MESSAGE_EVENT,
      pubsubTopic: topic.id,
      retryPolicy: "RETRY_POLICY_DO_NOT_RETRY",
      serviceAccountEmail: account("load-trigger").state.email,
    });
    expect(sweep().inputs.serviceConfig).toMatchObject({ maxInstanceCount: 1, maxInstanceRequestConcurrency: 1 });
  });
});

describe("the warehouse and the project", () => {
  test("the load ledger is a table of the event dataset, with the ledger's schema", () => {
    const ledger = only(run, "gcp:bigquery/table:Table", (table) => table.inputs.tableId === LOAD_LEDGER_TABLE);
    expect(ledger.inputs.datasetId).toBe("pixel_dev");
    expect(JSON.parse(ledger.inputs.schema)).toEqual(LOAD_LEDGER_SCHEMA);
  });

  test("the batch tier's APIs are enabled besides the others", () => {
    expect(ofType(run, "gcp:projects/service:Service").map((service) => service.inputs.service).sort()).toEqual([...REQUIRED_APIS, ...BATCH_APIS].sort());
  });

  test("the dead-object metric counts the loader's and the sweep's dead-object lines", () => {
    const metric = only(run, "gcp:logging/metric:Metric", (candidate) => candidate.name === "pixel-monitoring-dead-objects");
    for (const service of [loader(), sweep()]) expect(metric.inputs.filter).toContain(`resource.labels.service_name="${service.state.name}"`);
    expect(metric.inputs.filter).toContain(`jsonPayload.reason="${ARCHIVE_OBJECT_DEAD_REASON}"`);
  });
});
