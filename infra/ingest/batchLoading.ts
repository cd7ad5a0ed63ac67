import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { serializeCoreSettings } from "../../core/config/coreSettings";
import type { CoreSettings } from "../../core/config/coreSettings";
import type { CollectorSettings, SecretPlacement } from "../../core/config/stackConfig";
import { ARCHIVE_BUCKET_VARIABLE, DATASET_LOCATION_VARIABLE, DATASET_VARIABLE, LOADER_ENTRY_POINT, SETTINGS_VARIABLE, SWEEP_ENTRY_POINT } from "../../core/functionContract";
import { serviceAccountId, storageServiceAgent } from "../naming";
import { DEPLOYED_RUNTIME, FunctionBundle } from "./functionBundle";
import { declareFunctionSecrets, declareFunctionSource, deployedService, FunctionService, grantsSettled } from "./functionDeployment";

/** Cloud Storage's event for a new object, or a new generation of one (https://cloud.google.com/functions/docs/calling/storage). */
export const OBJECT_FINALIZED_EVENT = "google.cloud.storage.object.v1.finalized";
export const PUBSUB_MESSAGE_EVENT = "google.cloud.pubsub.topic.v1.messagePublished";

/**
 * The longest an event-driven function may run: 540 s, against 3600 for an HTTP one
 * (https://cloud.google.com/functions/docs/configuring/timeout). The loader streams a file of any
 * size and the sweep works through a backlog within its own budget, so both get all of it.
 */
export const EVENT_FUNCTION_TIMEOUT_SECONDS = 540;

/**
 * When the sweep runs, in unix-cron (Cloud Scheduler's syntax), in UTC: hourly, as the sink writes
 * hourly files, so a file whose event was lost waits about an hour more than the rest.
 */
export const SWEEP_SCHEDULE = "0 * * * *";

/**
 * The roles each account of the batch tier holds, and on what: the loader's runtime account reads
 * the archive bucket, writes the event dataset and runs load jobs; the trigger's account receives
 * Eventarc's events and invokes the two functions; the Cloud Storage agent publishes the bucket's
 * notifications to the topic Eventarc creates for the trigger. Roles from
 * https://cloud.google.com/eventarc/standard/docs/functions/roles-permissions (Cloud Storage
 * direct events to Cloud Run functions).
 */
export const BATCH_ROLES = {
  archiveReader: "roles/storage.objectViewer",
  datasetWriter: "roles/bigquery.dataEditor",
  jobRunner: "roles/bigquery.jobUser",
  eventReceiver: "roles/eventarc.eventReceiver",
  invoker: "roles/run.invoker",
  storageAgentPublisher: "roles/pubsub.publisher",
} as const;

export interface BatchLoadingArgs {
  /** The stack name, with the pipeline's name when it is not the default: keeps project-unique ids and display names apart. */
  readonly scope: string;
  readonly project: string;
  /** Where the functions run: the archive bucket's location, which a storage trigger must share. */
  readonly region: string;
  readonly core: CoreSettings;
  /** The event dataset: the loader writes its tables and the load ledger there, and nothing else. */
  readonly datasetId: pulumi.Input<string>;
  /** The dataset's location, where the load jobs run. */
  readonly datasetLocation: string;
  /** The raw archive's bucket: the loader's source, and the only bucket it may read. */
  readonly archiveBucket: pulumi.Input<string>;
  /** Memory, CPU, instances and concurrency, as the collector would have them. */
  readonly settings: Pick<CollectorSettings, "memory" | "cpu" | "maxInstances" | "concurrency">;
  /** bundleFunction(BATCH_FUNCTION_ENTRY): the loader and the sweep. */
  readonly bundle: FunctionBundle;
  /** With signedUrls: the loader checks signatures as the collector does. */
  readonly signingKeys?: pulumi.Input<string>;
  readonly secretPlacement: SecretPlacement;
}

/**
 * The batch tier: a loader function that Eventarc runs on every object the archive sink finishes,
 * loading its rows with BigQuery load jobs, and a sweep that Cloud Scheduler runs every hour to load
 * any object whose event was lost (the subscription Eventarc creates keeps a failing event for
 * 24 hours, without a dead-letter topic). Both run the same bundle as one runtime account.
 */
export class BatchLoading extends pulumi.ComponentResource {
  public readonly loaderService: pulumi.Output<FunctionService>;
  public readonly sweepService: pulumi.Output<FunctionService>;

  constructor(name: string, args: BatchLoadingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:BatchLoading", name, {}, opts);

    const source = declareFunctionSource(
      name,
      { scope: args.scope, project: args.project, region: args.region, bundle: args.bundle, buildAccount: { purpose: "batch-build", displayName: "Pixel batch loader builds" } },
      this,
    );

    // Least privilege: objectViewer on the archive bucket only (get and list, which the sweep
    // needs), dataEditor on the event dataset only, and jobUser, the one project-wide role, as jobs
    // belong to a project.
    const runtimeAccount = new gcp.serviceaccount.Account(
      `${name}-runtime`,
      { accountId: serviceAccountId(args.scope, "loader"), displayName: "Pixel batch loader", description: "Loads the raw archive's files into the event dataset." },
      { parent: this },
    );
    const runtimeGrants = [
      new gcp.storage.BucketIAMMember(`${name}-archive-reader`, { bucket: args.archiveBucket, role: BATCH_ROLES.archiveReader, member: runtimeAccount.member }, { parent: this }),
      new gcp.bigquery.DatasetIamMember(`${name}-dataset-writer`, { datasetId: args.datasetId, role: BATCH_ROLES.datasetWriter, member: runtimeAccount.member }, { parent: this }),
      new gcp.projects.IAMMember(`${name}-job-user`, { project: args.project, role: BATCH_ROLES.jobRunner, member: runtimeAccount.member }, { parent: this }),
    ];
    // Secret ids are unique in the project and the collector's take the plain scope: a stack that
    // switches tiers creates these before it deletes those.
    const secrets = declareFunctionSecrets(
      name,
      { scope: `${args.scope}-batch`, project: args.project, reader: runtimeAccount.member, placement: args.secretPlacement, signingKeys: args.signingKeys },
      this,
    );

    // The identity Eventarc delivers with: it receives events and invokes the two functions, nothing else.
    const triggerAccount = new gcp.serviceaccount.Account(
      `${name}-trigger`,
      { accountId: serviceAccountId(args.scope, "load-trigger"), displayName: "Pixel batch loader triggers" },
      { parent: this },
    );
    const eventReceiver = new gcp.projects.IAMMember(
      `${name}-trigger-event-receiver`,
      { project: args.project, role: BATCH_ROLES.eventReceiver, member: triggerAccount.member },
      { parent: this },
    );
    // Cloud Storage publishes the bucket's notifications to a topic Eventarc creates with the
    // trigger, whose name is not known beforehand: the grant is on the project, as Google's guide has it.
    const storagePublisher = new gcp.projects.IAMMember(
      `${name}-storage-agent-publisher`,
      { project: args.project, role: BATCH_ROLES.storageAgentPublisher, member: storageServiceAgent(args.project, this) },
      { parent: this },
    );
    const settled = grantsSettled(`${name}-grants`, [...source.buildGrants, ...runtimeGrants, ...secrets.readerGrants, eventReceiver, storagePublisher], this);

    const deploy = (purpose: string, entryPoint: string, description: string, sizing: BatchLoadingArgs["settings"], eventTrigger: gcp.types.input.cloudfunctionsv2.FunctionEventTrigger) =>
      new gcp.cloudfunctionsv2.Function(
        `${name}-${purpose}`,
        {
          location: args.region,
          description,
          buildConfig: { runtime: DEPLOYED_RUNTIME, entryPoint, source: { storageSource: source.storageSource }, serviceAccount: source.buildAccountId },
          serviceConfig: {
            availableMemory: sizing.memory,
            availableCpu: sizing.cpu,
            maxInstanceCount: sizing.maxInstances,
            maxInstanceRequestConcurrency: sizing.concurrency,
            timeoutSeconds: EVENT_FUNCTION_TIMEOUT_SECONDS,
            serviceAccountEmail: runtimeAccount.email,
            // Eventarc's deliveries count as internal traffic; nothing else needs to reach it.
            ingressSettings: "ALLOW_INTERNAL_ONLY",
            environmentVariables: {
              [SETTINGS_VARIABLE]: serializeCoreSettings(args.core),
              [DATASET_VARIABLE]: args.datasetId,
              [DATASET_LOCATION_VARIABLE]: args.datasetLocation,
              [ARCHIVE_BUCKET_VARIABLE]: args.archiveBucket,
            },
            secretEnvironmentVariables: secrets.environmentVariables,
          },
          eventTrigger,
        },
        { parent: this, dependsOn: settled },
      );

    // The trigger's fields: https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions#EventTrigger
    // (eventFilters on the `bucket` attribute, retryPolicy, serviceAccountEmail). Retried, a
    // failing object is tried again with backoff for up to 24 hours; the load job ids make a retry
    // load nothing twice, and the function records an object dead after bounded attempts.
    const loader = deploy("loader", LOADER_ENTRY_POINT, "Pixel batch tier: archive object -> BigQuery load jobs", args.settings, {
      eventType: OBJECT_FINALIZED_EVENT,
      eventFilters: [{ attribute: "bucket", value: args.archiveBucket }],
      retryPolicy: "RETRY_POLICY_RETRY",
      serviceAccountEmail: triggerAccount.email,
    });

    // The sweep: one instance, one run at a time, and no retry, because the next hour's run does
    // the same work. Cloud Scheduler publishes as its own service agent.
    const sweepTopic = new gcp.pubsub.Topic(`${name}-sweep-topic`, {}, { parent: this });
    new gcp.cloudscheduler.Job(
      `${name}-sweep-schedule`,
      {
        region: args.region,
        description: `Pixel batch tier (${args.scope}): load the archive objects whose event was lost`,
        schedule: SWEEP_SCHEDULE,
        timeZone: "Etc/UTC",
        pubsubTarget: { topicName: sweepTopic.id, data: Buffer.from("sweep").toString("base64") },
      },
      { parent: this },
    );
    const sweep = deploy("sweep", SWEEP_ENTRY_POINT, "Pixel batch tier: load archive objects the loader missed", { ...args.settings, maxInstances: 1, concurrency: 1 }, {
      eventType: PUBSUB_MESSAGE_EVENT,
      pubsubTopic: sweepTopic.id,
      retryPolicy: "RETRY_POLICY_DO_NOT_RETRY",
      serviceAccountEmail: triggerAccount.email,
    });

    this.loaderService = loader.serviceConfig.apply(deployedService);
    this.sweepService = sweep.serviceConfig.apply(deployedService);
    // Eventarc authenticates as the trigger's account; each service lets it in. Until the grant
    // exists, a delivery is refused and retried.
    for (const [purpose, service] of [["loader", this.loaderService], ["sweep", this.sweepService]] as const) {
      new gcp.cloudrunv2.ServiceIamMember(`${name}-${purpose}-invoker`, { name: service.name, role: BATCH_ROLES.invoker, member: triggerAccount.member }, { parent: this });
    }
    this.registerOutputs({ loaderService: this.loaderService, sweepService: this.sweepService });
  }
}
