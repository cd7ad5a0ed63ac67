import * as pulumi from "@pulumi/pulumi";
import type * as gcp from "@pulumi/gcp";
import type { StackConfig } from "../core/config/stackConfig";
import { EdgeSecurity } from "./edge/edgeSecurity";
import { PixelLoadBalancer } from "./edge/loadBalancer";
import { PixelBucket } from "./edge/pixelBucket";
import * as examples from "./examples";
import { BatchLoading } from "./ingest/batchLoading";
import { CollectorFunction } from "./ingest/collectorFunction";
import { BATCH_FUNCTION_ENTRY, bundleFunction } from "./ingest/functionBundle";
import { PushDelivery } from "./ingest/pushDelivery";
import { RequestLogExport } from "./ingest/requestLogExport";
import { BatchTier, PipelineMonitoring, StreamingTier } from "./operations/monitoring";
import { RawArchive } from "./operations/rawArchive";
import { ProjectApis } from "./projectApis";
import { AnalyticsViews } from "./warehouse/analyticsViews";
import { EventWarehouse } from "./warehouse/eventWarehouse";
import { givesTablesExpiration } from "./warehouse/tableExpiration";
import { LookerAccess } from "./warehouse/lookerAccess";
import { Rollups, RollupSchedule } from "./warehouse/rollups";
import * as reporting from "./warehouse/reporting";

/** The validated stack configuration (core/config/stackConfig.ts), with the signing keys kept secret. */
export interface PixelPipelineArgs extends Omit<StackConfig, "signingKeys"> {
  readonly signingKeys?: pulumi.Input<string>;
}

/** The name index.ts gives the pipeline; other programs may choose any other. */
export const DEFAULT_PIPELINE_NAME = "pixel";

/**
 * The whole pipeline, stage by stage: the pixel and its edge (bucket, load balancer, CDN, edge
 * policy), ingest (request logs, then Pub/Sub push and the collector function when streaming, or
 * the loader of the raw archive's files in batch), the warehouse (dataset, tables, views) and
 * operations (raw archive, monitoring). docs/architecture.md has the picture.
 */
export class PixelPipeline extends pulumi.ComponentResource {
  public readonly ipAddress: pulumi.Output<string>;
  public readonly pixelUrl: pulumi.Output<string>;
  public readonly imgTag: pulumi.Output<string>;
  public readonly httpOnly: boolean;
  public readonly servingNote: string;
  public readonly datasetId: pulumi.Output<string>;
  public readonly templateTableId: pulumi.Output<string>;
  /** Streaming only: a batch stack has no topic and no subscriptions. */
  public readonly requestLogTopic?: pulumi.Output<string>;
  public readonly deadLetterSubscription?: pulumi.Output<string>;
  public readonly archiveBucket?: pulumi.Output<string>;
  public readonly dashboardUrl?: pulumi.Output<string>;
  public readonly exampleQuery: pulumi.Output<string>;
  public readonly eventsViewId: pulumi.Output<string>;
  public readonly lookerStudioUrl: pulumi.Output<string>;
  /** Per report view (the daily views over the rollups), a Looker Studio link that opens a report on it. */
  public readonly lookerStudioReports: pulumi.Output<Record<string, string>>;
  public readonly tenantViewQueries?: Record<string, string>;
  /** With lookerConnection: what to enter in Looker's connection page. */
  public readonly lookerConnection?: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: PixelPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:PixelPipeline", name, {}, opts);
    const { core, domain, operations } = args;
    // Service account and secret ids are unique per project: the stack keeps stacks apart, and a
    // pipeline named other than the default adds its name, so one program may hold several.
    const scope = name === DEFAULT_PIPELINE_NAME ? args.stack : `${name}-${args.stack}`;
    // Until PixelPipeline existed, index.ts created these components directly under the stack:
    // the alias keeps the resources of stacks deployed then, and their children inherit it.
    const moved = { parent: this, aliases: [{ parent: pulumi.rootStackResource }] };

    // Everything else waits for the APIs, so a fresh project deploys in one `pulumi up`.
    const apis = new ProjectApis(`${name}-apis`, { project: args.project, ingest: args.ingest }, moved);
    const stage = { ...moved, dependsOn: apis };

    // The edge. The bucket component keeps the pipeline's own name, as it had under the stack.
    const pixel = new PixelBucket(name, { location: args.region, pixelPath: core.pixelPath }, stage);
    const edgeSecurity = operations.edgeSecurity ? new EdgeSecurity(`${name}-edge-security`, { settings: operations.edgeSecurity }, stage) : undefined;
    const edge = new PixelLoadBalancer(`${name}-edge`, { bucketName: pixel.bucketName, domain, edgeSecurityPolicy: edgeSecurity?.policyId }, stage);

    // Ingest: request logs to Pub/Sub, pushed to the collector function; or, in batch, the raw
    // archive's files loaded by the loader function (below, once the archive exists).
    const streaming = args.ingest === "streaming";
    const requestLogs = new RequestLogExport(
      `${name}-logs`,
      { forwardingRuleName: edge.servingRuleName, excludeFromDefaultBucket: operations.excludeRequestLogsFromDefaultBucket, toPubSub: streaming },
      stage,
    );
    const warehouse = new EventWarehouse(
      `${name}-events`,
      {
        datasetId: args.datasetId,
        location: args.datasetLocation,
        core,
        deletionProtection: args.deletionProtection,
        requirePartitionFilter: args.warehouse.requirePartitionFilter,
        retention: args.retention,
        ingest: args.ingest,
      },
      stage,
    );
    const streamed = requestLogs.topic ? this.streamingIngest(name, scope, args, requestLogs.topic, warehouse.datasetId, stage) : undefined;

    // Looker's read-only connection, when the stack asks for one: it sees every row, and its explores cut tenants.
    const looker = args.looker.connection
      ? new LookerAccess(
          `${name}-looker`,
          { scope, project: args.project, datasetId: args.datasetId, dataset: warehouse.datasetId, location: args.datasetLocation, connection: args.looker.connection },
          stage,
        )
      : undefined;
    const lookerMembers = looker ? [looker.member] : [];

    // The daily answers as tables, kept up to date inside BigQuery by scheduled queries.
    const rollups = new Rollups(
      `${name}-rollups`,
      {
        scope,
        project: args.project,
        datasetId: args.datasetId,
        location: args.datasetLocation,
        core,
        settings: args.warehouse,
        deletionProtection: args.deletionProtection,
        retention: args.retention,
        eventSource: warehouse.eventSource,
        tenantReaders: args.tenantReaders,
        allRowsMembers: lookerMembers,
      },
      stage,
    );

    // The warehouse's views, for SQL, Looker and Looker Studio; the daily ones read the rollups.
    const analytics = new AnalyticsViews(
      `${name}-analytics`,
      {
        project: args.project,
        datasetId: args.datasetId,
        core,
        eventSource: warehouse.eventSource,
        tenantReaders: args.tenantReaders,
        allRowsMembers: [rollups.runnerMember, ...lookerMembers],
        rollupTables: rollups.tables,
        ...(givesTablesExpiration(core.layout, args.retention) ? { clearInheritedExpiration: { location: args.datasetLocation } } : {}),
      },
      stage,
    );

    // The scheduled query, once its account is in every row access policy it needs: the rollups' and the events'.
    new RollupSchedule(
      `${name}-rollups-schedule`,
      {
        scope,
        project: args.project,
        datasetId: args.datasetId,
        location: args.datasetLocation,
        core,
        settings: args.warehouse,
        runnerEmail: rollups.runnerEmail,
        after: [rollups, analytics],
      },
      stage,
    );

    // Operations: the same entries in hourly files for `npm run replay`, and monitoring.
    const archive = operations.archive
      ? new RawArchive(
          `${name}-archive`,
          { location: args.region, filter: requestLogs.filter, settings: operations.archive, deletionProtection: args.deletionProtection },
          stage,
        )
      : undefined;
    // What monitoring watches: the collector and its subscriptions, or the batch tier's two functions.
    let watched: { functionServiceId: pulumi.Output<string>; tier: StreamingTier | BatchTier };
    if (streamed) {
      const { collector, delivery } = streamed;
      watched = {
        functionServiceId: collector.service.name,
        tier: { ingest: "streaming", pushSubscriptionId: delivery.pushSubscriptionId, deadLetterSubscriptionId: delivery.deadLetterSubscriptionId },
      };
    } else {
      const batch = new BatchLoading(
        `${name}-batch`,
        {
          scope,
          project: args.project,
          region: args.region,
          core,
          datasetId: warehouse.datasetId,
          datasetLocation: args.datasetLocation,
          archiveBucket: requiredArchive(archive).bucketName,
          settings: args.collector,
          bundle: bundleFunction(BATCH_FUNCTION_ENTRY),
          signingKeys: args.signingKeys,
          secretPlacement: args.secretPlacement,
        },
        stage,
      );
      watched = { functionServiceId: batch.loaderService.name, tier: { ingest: "batch", sweepServiceId: batch.sweepService.name } };
    }
    const monitoring = operations.monitoring
      ? new PipelineMonitoring(
          `${name}-monitoring`,
          { scope, project: args.project, core, settings: operations.monitoring, requestLogFilter: requestLogs.filter, ...watched },
          stage,
        )
      : undefined;

    this.ipAddress = edge.ipAddress;
    this.pixelUrl = edge.ipAddress.apply((ip) => examples.pixelUrl(core, ip, domain));
    this.imgTag = this.pixelUrl.apply((url) => examples.imgTag(examples.examplePixelUrl(core, url)));
    this.httpOnly = domain === undefined;
    this.servingNote = examples.servingNote(domain);
    this.datasetId = pulumi.interpolate`${args.project}.${warehouse.datasetId}`;
    this.templateTableId = pulumi.interpolate`${this.datasetId}.${warehouse.templateTableId}`;
    this.requestLogTopic = requestLogs.topic?.id;
    this.deadLetterSubscription = streamed?.delivery.deadLetterSubscriptionId;
    this.archiveBucket = archive ? pulumi.interpolate`gs://${archive.bucketName}` : undefined;
    this.dashboardUrl = monitoring?.dashboardUrl;
    this.exampleQuery = warehouse.datasetId.apply((id) => examples.exampleQuery(args.project, id, core, examples.lastUtcDays(new Date(), 7)));
    this.eventsViewId = pulumi.interpolate`${this.datasetId}.${analytics.eventsViewId}`;
    this.lookerStudioUrl = analytics.mainReportViewId.apply((view) =>
      reporting.lookerStudioUrl({ project: args.project, dataset: args.datasetId, table: view, reportName: `Pixel ${view} (${scope})` }),
    );
    this.lookerStudioReports = analytics.reportViewIds.apply((views) =>
      Object.fromEntries(
        views.map((view) => [view, reporting.lookerStudioUrl({ project: args.project, dataset: args.datasetId, table: view, reportName: `Pixel ${view} (${scope})` })]),
      ),
    );
    this.tenantViewQueries = reporting.tenantViewQueries(args.project, args.datasetId, core);
    this.lookerConnection = looker?.connectionSettings;
    this.registerOutputs({
      ipAddress: this.ipAddress,
      pixelUrl: this.pixelUrl,
      imgTag: this.imgTag,
      datasetId: this.datasetId,
      templateTableId: this.templateTableId,
      requestLogTopic: this.requestLogTopic,
      deadLetterSubscription: this.deadLetterSubscription,
      archiveBucket: this.archiveBucket,
      dashboardUrl: this.dashboardUrl,
      exampleQuery: this.exampleQuery,
      eventsViewId: this.eventsViewId,
      lookerStudioUrl: this.lookerStudioUrl,
      lookerStudioReports: this.lookerStudioReports,
      lookerConnection: this.lookerConnection,
    });
  }

  /** Streaming: the collector function, and the push subscription that delivers each log entry to it. */
  private streamingIngest(
    name: string,
    scope: string,
    args: PixelPipelineArgs,
    topic: gcp.pubsub.Topic,
    datasetId: pulumi.Output<string>,
    stage: pulumi.ComponentResourceOptions,
  ): { collector: CollectorFunction; delivery: PushDelivery } {
    const collector = new CollectorFunction(
      `${name}-collector`,
      {
        scope,
        project: args.project,
        region: args.region,
        core: args.core,
        datasetId,
        settings: args.collector,
        maxDeliveryAttempts: args.maxDeliveryAttempts,
        bundle: bundleFunction(),
        signingKeys: args.signingKeys,
        secretPlacement: args.secretPlacement,
      },
      stage,
    );
    const delivery = new PushDelivery(
      `${name}-delivery`,
      {
        scope,
        project: args.project,
        topic,
        functionService: collector.service,
        functionTimeoutSeconds: args.collector.timeoutSeconds,
        maxDeliveryAttempts: args.maxDeliveryAttempts,
      },
      stage,
    );
    return { collector, delivery };
  }
}

/** validateStackConfig refuses batch without the archive; a program that builds its args otherwise learns it here. */
function requiredArchive(archive: RawArchive | undefined): RawArchive {
  if (!archive) throw new Error("PixelPipeline: ingest batch needs operations.archive, the files it loads.");
  return archive;
}
