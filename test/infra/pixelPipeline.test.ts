import * as pulumi from "@pulumi/pulumi";
import { DELIVERY_ATTEMPTS_VARIABLE, FUNCTION_ENTRY_POINT } from "../../core/functionContract";
import { templateSchema } from "../../core/schema";
import { parseCoreSettingsJson } from "../../core/config/coreSettings";
import { run as evaluateCel } from "@bufbuild/cel";
import { BUILD_PROJECT_ROLES, BUILD_STORAGE_ROLE } from "../../infra/ingest/buildAccess";
import { bundleFunction, DEPLOYED_RUNTIME } from "../../infra/ingest/functionBundle";
import {
  BASE_CONFIG,
  grants,
  only,
  ofType,
  ProgramRun,
  runProgram,
  SINK_WRITER,
  strings,
  TEST_PROJECT,
  TEST_IP,
  TEST_PROJECT_NUMBER,
} from "../../testkit/pulumiProgram";

// The full program with a domain: HTTPS, redirect, and every part of the pipeline.
const DOMAIN = "track.example.com";

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({
    ...BASE_CONFIG,
    "pixel-pipeline:domain": DOMAIN,
    "pixel-pipeline:maxDeliveryAttempts": "12",
    "pixel-pipeline:functionTimeoutSeconds": "120",
  });
});

const pixelBucket = () => only(run, "gcp:storage/bucket:Bucket", (bucket) => bucket.inputs.publicAccessPrevention === "inherited");
const logTopic = () => only(run, "gcp:pubsub/topic:Topic", (topic) => topic.name === "pixel-logs-topic");
const deadLetterTopic = () => only(run, "gcp:pubsub/topic:Topic", (topic) => topic.name !== "pixel-logs-topic");
const pushSubscription = () => only(run, "gcp:pubsub/subscription:Subscription", (subscription) => subscription.inputs.pushConfig !== undefined);
const deadLetterSubscription = () => only(run, "gcp:pubsub/subscription:Subscription", (subscription) => subscription.inputs.pushConfig === undefined);
const collector = () => only(run, "gcp:cloudfunctionsv2/function:Function");
const account = (purpose: string) => only(run, "gcp:serviceaccount/account:Account", (sa) => sa.inputs.accountId === `pixel-dev-${purpose}`);
const rule = (port: string) => only(run, "gcp:compute/globalForwardingRule:GlobalForwardingRule", (r) => r.inputs.portRange === port);
const pubsubAgent = () => only(run, "gcp:projects/serviceIdentity:ServiceIdentity", (agent) => agent.inputs.service === "pubsub.googleapis.com");
const grantsTo = (member: string) => grants(run).filter((grant) => grant.inputs.member === member || strings(grant.inputs.members).includes(member));

describe("Google APIs", () => {
  test("the program enables every API it uses and leaves them enabled on destroy", () => {
    const services = ofType(run, "gcp:projects/service:Service");
    expect(services.map((service) => service.inputs.service).sort()).toEqual([
      "artifactregistry.googleapis.com",
      "bigquery.googleapis.com",
      "bigquerydatatransfer.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudfunctions.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "compute.googleapis.com",
      "iam.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "pubsub.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "storage.googleapis.com",
    ]);
    expect(services.every((service) => service.inputs.disableOnDestroy === false && service.inputs.project === TEST_PROJECT)).toBe(true);
  });

  test("every other resource is declared only after all APIs are enabled", () => {
    const lastApi = Math.max(...run.resources.flatMap((resource, index) => (resource.type === "gcp:projects/service:Service" ? [index] : [])));
    const early = run.resources
      .slice(0, lastApi)
      .filter((resource) => !["gcp:projects/service:Service", "pixel:infra:ProjectApis", "pixel:infra:PixelPipeline"].includes(resource.type));
    expect(early.map((resource) => resource.name)).toEqual([]);
  });
});

describe("pixel bucket", () => {
  test("holds pixel.png as image/png with a one-day Cache-Control, under uniform access", () => {
    expect(pixelBucket().inputs.uniformBucketLevelAccess).toBe(true);
    const png = only(run, "gcp:storage/bucketObject:BucketObject", (object) => object.inputs.bucket === pixelBucket().state.name);
    expect(png.inputs).toMatchObject({ name: "pixel.png", contentType: "image/png", cacheControl: "public, max-age=86400" });
  });

  test("anyone may read objects but nobody may list: legacyObjectReader is the only public grant in the program", () => {
    const publicGrants = run.resources.filter((resource) => strings(resource.inputs).some((value) => value === "allUsers" || value === "allAuthenticatedUsers"));
    expect(publicGrants.map((grant) => [grant.type, grant.inputs.bucket, grant.inputs.role, grant.inputs.member])).toEqual([
      ["gcp:storage/bucketIAMMember:BucketIAMMember", pixelBucket().state.name, "roles/storage.legacyObjectReader", "allUsers"],
    ]);
  });

  test("the function source bucket is private, with public access prevention enforced", () => {
    const source = only(run, "gcp:storage/bucket:Bucket", (bucket) => bucket.name === "pixel-collector-source");
    expect(source.inputs).toMatchObject({ publicAccessPrevention: "enforced", uniformBucketLevelAccess: true });
  });
});

describe("load balancer and CDN", () => {
  test("the backend bucket serves the pixel bucket through Cloud CDN", () => {
    const backend = only(run, "gcp:compute/backendBucket:BackendBucket");
    expect(backend.inputs).toMatchObject({ bucketName: pixelBucket().state.name, enableCdn: true });
  });

  test("the CDN caches the pixel whatever the query, coalesces fills, and makes browsers revalidate every view", () => {
    const { cdnPolicy } = only(run, "gcp:compute/backendBucket:BackendBucket").inputs;
    expect(cdnPolicy).toMatchObject({ cacheMode: "CACHE_ALL_STATIC", clientTtl: 0, requestCoalescing: true });
    expect(cdnPolicy.defaultTtl).toBeGreaterThan(0);
    expect(cdnPolicy.maxTtl).toBeGreaterThanOrEqual(cdnPolicy.defaultTtl);
    expect(cdnPolicy.cacheKeyPolicy).toBeUndefined();
  });

  test("HTTPS on port 443 serves the pixel map with a Google-managed certificate for the domain", () => {
    const certificate = only(run, "gcp:compute/managedSslCertificate:ManagedSslCertificate");
    expect(certificate.inputs.managed).toEqual({ domains: [DOMAIN] });
    const httpsProxy = only(run, "gcp:compute/targetHttpsProxy:TargetHttpsProxy");
    expect(httpsProxy.inputs.sslCertificates).toEqual([certificate.state.selfLink]);
    const pixelMap = only(run, "gcp:compute/uRLMap:URLMap", (map) => map.inputs.defaultService !== undefined);
    expect(pixelMap.inputs.defaultService).toBe(only(run, "gcp:compute/backendBucket:BackendBucket").state.selfLink);
    expect(httpsProxy.inputs.urlMap).toBe(pixelMap.state.selfLink);
    expect(rule("443").inputs.target).toBe(httpsProxy.state.selfLink);
  });

  test("HTTP on the same IP redirects to HTTPS and keeps the query string", () => {
    const redirectMap = only(run, "gcp:compute/uRLMap:URLMap", (map) => map.inputs.defaultUrlRedirect !== undefined);
    expect(redirectMap.inputs.defaultUrlRedirect).toEqual({ httpsRedirect: true, stripQuery: false });
    const httpProxy = only(run, "gcp:compute/targetHttpProxy:TargetHttpProxy");
    expect(httpProxy.inputs.urlMap).toBe(redirectMap.state.selfLink);
    expect(rule("80").inputs.target).toBe(httpProxy.state.selfLink);
    expect([rule("80").inputs.ipAddress, rule("443").inputs.ipAddress]).toEqual([TEST_IP, TEST_IP]);
  });

  test("every forwarding rule uses the global external Application Load Balancer", () => {
    const rules = ofType(run, "gcp:compute/globalForwardingRule:GlobalForwardingRule");
    expect(rules.map((r) => r.inputs.loadBalancingScheme)).toEqual(["EXTERNAL_MANAGED", "EXTERNAL_MANAGED"]);
  });
});

describe("log routing", () => {
  test("the sink sends the HTTPS rule's request logs to the topic, with its own writer identity", () => {
    const sink = only(run, "gcp:logging/projectSink:ProjectSink", (candidate) => candidate.name === "pixel-logs-sink");
    expect(sink.inputs.destination).toBe(`pubsub.googleapis.com/projects/${TEST_PROJECT}/topics/${logTopic().state.name}`);
    expect(sink.inputs.filter).toBe(`resource.type="http_load_balancer" AND resource.labels.forwarding_rule_name="${rule("443").state.name}"`);
    expect(sink.inputs.uniqueWriterIdentity).toBe(true);
  });

  test("the sinks' identity may publish to that topic and add objects to the raw archive, and has no other grant", () => {
    const archive = only(run, "gcp:storage/bucket:Bucket", (bucket) => bucket.name === "pixel-archive-bucket");
    const granted = grantsTo(SINK_WRITER).map((grant) => [grant.type, grant.inputs.topic ?? grant.inputs.bucket, grant.inputs.role]);
    expect(granted).toEqual(
      expect.arrayContaining([
        ["gcp:pubsub/topicIAMMember:TopicIAMMember", logTopic().state.name, "roles/pubsub.publisher"],
        ["gcp:storage/bucketIAMMember:BucketIAMMember", archive.state.name, "roles/storage.objectCreator"],
      ]),
    );
    expect(granted).toHaveLength(2);
  });
});

describe("collector function", () => {
  test("runs the bundled handler on Node 22, uploaded under its content hash", () => {
    const fn = collector().inputs;
    expect(fn.buildConfig).toMatchObject({ runtime: DEPLOYED_RUNTIME, entryPoint: FUNCTION_ENTRY_POINT });
    expect(DEPLOYED_RUNTIME).toBe("nodejs22");
    const archive = only(run, "gcp:storage/bucketObject:BucketObject", (object) => object.inputs.bucket === fn.buildConfig.source.storageSource.bucket);
    const bundle = bundleFunction();
    expect(archive.inputs.name).toBe(`${bundle.hash}.zip`);
    // A file of fixed bytes with its MD5 given, not an AssetArchive, which is replaced on every update (pulumi/pulumi-gcp#3146).
    expect(archive.inputs.source).toBeInstanceOf(pulumi.asset.FileAsset);
    expect(archive.inputs.sourceMd5hash).toBe(bundle.archiveMd5);
    expect(archive.inputs.contentType).toBe("application/zip");
    expect(fn.buildConfig.source.storageSource.object).toBe(archive.state.name);
  });

  test("is not triggered by Eventarc: the push subscription is its only way in, and only internal traffic is accepted", () => {
    expect(collector().inputs.eventTrigger).toBeUndefined();
    expect(collector().inputs.serviceConfig.ingressSettings).toBe("ALLOW_INTERNAL_ONLY");
  });

  test("gets the parser settings, the dataset and Pub/Sub's delivery budget from one source: the stack config", () => {
    const env = collector().inputs.serviceConfig.environmentVariables;
    expect(Number(env[DELIVERY_ATTEMPTS_VARIABLE])).toBe(pushSubscription().inputs.deadLetterPolicy.maxDeliveryAttempts);
    const settings = parseCoreSettingsJson(env.PIXEL_PIPELINE_SETTINGS);
    expect(settings.attributes).toEqual([
      { name: "user_id", type: "STRING" },
      { name: "order_id", type: "INT64" },
      { name: "type", type: "STRING" },
    ]);
    expect(env.PIXEL_DATASET_ID).toBe("pixel_dev");
  });

  test("sizing and timeout come from the config, with sensible defaults", () => {
    expect(collector().inputs.serviceConfig).toMatchObject({
      availableMemory: "512Mi",
      availableCpu: "1",
      maxInstanceCount: 10,
      maxInstanceRequestConcurrency: 16,
      timeoutSeconds: 120,
    });
  });

  test("runs as its own service account, which may only edit the event dataset and read the visitor key (no signed URLs here)", () => {
    const runtime = account("fn");
    expect(collector().inputs.serviceConfig.serviceAccountEmail).toBe(runtime.state.email);
    expect(runtime.state.email).not.toMatch(/-compute@developer\.gserviceaccount\.com$/);
    const dataset = only(run, "gcp:bigquery/dataset:Dataset");
    expect(grantsTo(runtime.state.member).map((grant) => [grant.type, grant.inputs.datasetId ?? grant.inputs.secretId, grant.inputs.role])).toEqual([
      ["gcp:secretmanager/secretIamMember:SecretIamMember", "pixel-dev-visitor-key", "roles/secretmanager.secretAccessor"],
      ["gcp:bigquery/datasetIamMember:DatasetIamMember", dataset.state.datasetId, "roles/bigquery.dataEditor"],
    ]);
  });

  test("builds as a dedicated account holding the documented build roles, storage only on the build's source buckets", () => {
    const build = account("build");
    expect(collector().inputs.buildConfig.serviceAccount).toBe(build.id);
    const buildGrants = grantsTo(build.state.member);
    const projectGrants = buildGrants.filter((grant) => grant.type === "gcp:projects/iAMMember:IAMMember");
    expect(projectGrants.map((grant) => grant.inputs.role).sort()).toEqual([...BUILD_PROJECT_ROLES, BUILD_STORAGE_ROLE].sort());
    expect(projectGrants.every((grant) => grant.inputs.project === TEST_PROJECT)).toBe(true);
    // The only unconditional project grants are the two that reach no bucket.
    expect(projectGrants.filter((grant) => !grant.inputs.condition).map((grant) => grant.inputs.role).sort()).toEqual([...BUILD_PROJECT_ROLES].sort());
    const sourceBucket = collector().inputs.buildConfig.source.storageSource.bucket;
    expect(buildGrants.filter((grant) => grant.type !== "gcp:projects/iAMMember:IAMMember").map((grant) => [grant.type, grant.inputs.bucket, grant.inputs.role])).toEqual([
      ["gcp:storage/bucketIAMMember:BucketIAMMember", sourceBucket, "roles/storage.objectViewer"],
    ]);
  });

  test.each([
    ["the bucket Cloud Functions copies the source into", "projects/_/buckets/gcf-v2-sources-123456789012-europe-west1", true],
    ["the source object the build reads", "projects/_/buckets/gcf-v2-sources-123456789012-europe-west1/objects/pixel-collector/function-source.zip", true],
    ["the raw archive, full client IPs", "projects/_/buckets/pixel-archive-bucket-x1y2z3/objects/requests/2026/01/05/23:00:00_23:59:59_S0.json", false],
    ["pixel.png", "projects/_/buckets/pixel-bucket-x1y2z3/objects/pixel.png", false],
    ["another function's uploads", "projects/_/buckets/gcf-v2-uploads-123456789012-europe-west1/objects/x.zip", false],
    ["a bucket named to look alike", "projects/_/buckets/my-gcf-v2-sources-copy/objects/x", false],
  ])("the build's storage condition, evaluated as CEL, reaches %s: %p", (_what, resourceName, reachable) => {
    const storage = grantsTo(account("build").state.member).find((grant) => grant.inputs.role === BUILD_STORAGE_ROLE);
    expect(evaluateCel(storage?.inputs.condition.expression, { resource: { name: resourceName } })).toBe(reachable);
  });

  test("nobody but the push identity may invoke it", () => {
    const invokers = grants(run).filter((grant) => grant.inputs.role === "roles/run.invoker" || grant.inputs.role === "roles/cloudfunctions.invoker");
    expect(invokers.map((grant) => [grant.type, grant.inputs.name, grant.inputs.member])).toEqual([
      ["gcp:cloudrunv2/serviceIamMember:ServiceIamMember", collector().state.serviceConfig.service, account("push").state.member],
    ]);
  });
});

describe("push delivery", () => {
  test("pushes the log topic to the function's URL with the topic in the path", () => {
    const { uri } = collector().state.serviceConfig;
    expect(pushSubscription().inputs.topic).toBe(logTopic().state.name);
    expect(pushSubscription().inputs.pushConfig.pushEndpoint).toBe(`${uri}/projects/${TEST_PROJECT}/topics/${logTopic().state.name}`);
  });

  test("authenticates with an OIDC token of the push identity, for the function's URL, and that identity has no other grant", () => {
    const push = account("push");
    expect(pushSubscription().inputs.pushConfig.oidcToken).toEqual({ serviceAccountEmail: push.state.email, audience: collector().state.serviceConfig.uri });
    expect(grantsTo(push.state.member).map((grant) => grant.inputs.role)).toEqual(["roles/run.invoker"]);
  });

  test("retries with backoff and dead-letters after the configured attempts", () => {
    expect(pushSubscription().inputs).toMatchObject({
      retryPolicy: { minimumBackoff: "10s", maximumBackoff: "600s" },
      deadLetterPolicy: { deadLetterTopic: deadLetterTopic().id, maxDeliveryAttempts: 12 },
    });
  });

  test("waits for the function's whole timeout before redelivering", () => {
    expect(pushSubscription().inputs.ackDeadlineSeconds).toBeGreaterThanOrEqual(collector().inputs.serviceConfig.timeoutSeconds);
  });

  test("keeps dead letters on a pull subscription for a month, and neither subscription expires when idle", () => {
    expect(deadLetterSubscription().inputs).toMatchObject({ topic: deadLetterTopic().state.name, messageRetentionDuration: "2678400s", expirationPolicy: { ttl: "" } });
    expect(pushSubscription().inputs.expirationPolicy).toEqual({ ttl: "" });
  });

  test("the Pub/Sub service agent is declared, so it exists before anything is granted to it", () => {
    const agent = pubsubAgent();
    expect(agent.inputs).toEqual({ project: TEST_PROJECT, service: "pubsub.googleapis.com" });
    expect(agent.state.member).toBe(`serviceAccount:service-${TEST_PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com`);
  });

  test("the Pub/Sub service agent may dead-letter, ack the source and mint push tokens, and nothing more", () => {
    const granted = grantsTo(pubsubAgent().state.member).map((grant) => [grant.type, grant.inputs.role, grant.inputs.topic ?? grant.inputs.subscription ?? grant.inputs.serviceAccountId]);
    expect(granted).toEqual(
      expect.arrayContaining([
        ["gcp:pubsub/topicIAMMember:TopicIAMMember", "roles/pubsub.publisher", deadLetterTopic().state.name],
        ["gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember", "roles/pubsub.subscriber", pushSubscription().state.name],
        ["gcp:serviceaccount/iAMMember:IAMMember", "roles/iam.serviceAccountTokenCreator", account("push").state.name],
      ]),
    );
    expect(granted).toHaveLength(3);
  });
});

describe("BigQuery", () => {
  test("the dataset is case-sensitive, located as configured, and emptied on destroy only without deletion protection", () => {
    expect(only(run, "gcp:bigquery/dataset:Dataset").inputs).toMatchObject({
      datasetId: "pixel_dev",
      location: "US",
      isCaseInsensitive: false,
      deleteContentsOnDestroy: true,
    });
  });

  test("the template table's schema comes from the same attribute config as the function", () => {
    const table = only(run, "gcp:bigquery/table:Table", (candidate) => candidate.inputs.tableId === "pixel");
    const attributes = parseCoreSettingsJson(collector().inputs.serviceConfig.environmentVariables.PIXEL_PIPELINE_SETTINGS).attributes;
    expect(table.inputs).toMatchObject({ datasetId: "pixel_dev", tableId: "pixel", deletionProtection: false });
    expect(JSON.parse(table.inputs.schema)).toEqual(templateSchema(attributes));
  });
});

describe("stack outputs", () => {
  test("point at the HTTPS pixel with a ready <img> tag", () => {
    expect(run.outputs.pixelUrl).toBe(`https://${DOMAIN}/pixel.png`);
    expect(run.outputs.imgTag).toBe(`<img src="https://${DOMAIN}/pixel.png?user_id=acme&amp;order_id=42&amp;type=example" width="1" height="1" alt="" referrerpolicy="no-referrer-when-downgrade" style="position:absolute">`);
    expect(run.outputs.httpOnly).toBe(false);
    expect(run.outputs.servingNote).toContain(`HTTPS on ${DOMAIN}`);
    expect(run.outputs.ipAddress).toBe(TEST_IP);
  });

  test("name the dataset, template table, log topic and dead-letter subscription", () => {
    expect(run.outputs).toMatchObject({
      datasetId: `${TEST_PROJECT}.pixel_dev`,
      templateTableId: `${TEST_PROJECT}.pixel_dev.pixel`,
      requestLogTopic: logTopic().id,
      deadLetterSubscription: deadLetterSubscription().id,
    });
  });

  test("include a query over one tenant's day tables", () => {
    expect(run.outputs.exampleQuery).toContain(`FROM \`${TEST_PROJECT}.pixel_dev.pixel_acme_*\``);
    expect(run.outputs.exampleQuery).toMatch(/WHERE _TABLE_SUFFIX BETWEEN '\d{8}' AND '\d{8}'/);
  });
});
