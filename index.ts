// The pixel pipeline: pixel bucket -> load balancer + Cloud CDN -> request logs -> Pub/Sub push
// -> collector function -> BigQuery day tables per tenant. docs/deploy.md explains each part.
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { AnalyticsViews } from "./infra/analyticsViews";
import { ProjectApis } from "./infra/apis";
import { CollectorFunction } from "./infra/collectorFunction";
import { loadStackConfig } from "./infra/config";
import { EventWarehouse } from "./infra/eventWarehouse";
import * as examples from "./infra/examples";
import { EdgeSecurity } from "./infra/edgeSecurity";
import { bundleFunction } from "./infra/functionBundle";
import { PixelLoadBalancer } from "./infra/loadBalancer";
import { PipelineMonitoring } from "./infra/monitoring";
import { PixelBucket } from "./infra/pixelBucket";
import { PushDelivery } from "./infra/pushDelivery";
import { RawArchive } from "./infra/rawArchive";
import * as reporting from "./infra/reporting";
import { RequestLogExport } from "./infra/requestLogExport";

const config = loadStackConfig();
const { core, domain, operations } = config;

// Everything else waits for the APIs, so a fresh project deploys in one `pulumi up`.
const apis = new ProjectApis("pixel-apis", { project: config.project });
const afterApis = { dependsOn: apis };

const pixel = new PixelBucket("pixel", { location: config.region, pixelPath: core.pixelPath }, afterApis);
// Optional Cloud Armor edge policy: listed IP ranges and regions get a 403 before the cache answers.
const edgeSecurity = operations.edgeSecurity ? new EdgeSecurity("pixel-edge-security", { settings: operations.edgeSecurity }, afterApis) : undefined;
const edge = new PixelLoadBalancer("pixel-edge", { bucketName: pixel.bucketName, domain, edgeSecurityPolicy: edgeSecurity?.policyId }, afterApis);
const requestLogs = new RequestLogExport(
  "pixel-logs",
  { forwardingRuleName: edge.servingRuleName, excludeFromDefaultBucket: operations.excludeRequestLogsFromDefaultBucket },
  afterApis,
);
// The same entries in hourly files, so `npm run replay` can rebuild any rows.
const archive = operations.archive
  ? new RawArchive(
      "pixel-archive",
      { location: config.region, filter: requestLogs.filter, settings: operations.archive, deletionProtection: config.deletionProtection },
      afterApis,
    )
  : undefined;
const warehouse = new EventWarehouse(
  "pixel-events",
  { datasetId: config.datasetId, location: config.datasetLocation, core, deletionProtection: config.deletionProtection },
  afterApis,
);
const analytics = new AnalyticsViews(
  "pixel-analytics",
  { project: config.project, datasetId: config.datasetId, core, eventSource: warehouse.eventSource, tenantReaders: config.tenantReaders },
  afterApis,
);
const collector = new CollectorFunction(
  "pixel-collector",
  {
    stack: config.stack,
    project: config.project,
    region: config.region,
    core,
    datasetId: warehouse.datasetId,
    settings: config.collector,
    bundle: bundleFunction(),
    signingKeys: config.signingKeys,
  },
  afterApis,
);
const projectNumber = gcp.organizations.getProjectOutput({ projectId: config.project }, afterApis).apply((project) => project.number);
const delivery = new PushDelivery(
  "pixel-delivery",
  {
    stack: config.stack,
    project: config.project,
    projectNumber,
    topic: requestLogs.topic,
    functionService: collector.service,
    functionTimeoutSeconds: config.collector.timeoutSeconds,
    maxDeliveryAttempts: config.maxDeliveryAttempts,
  },
  afterApis,
);
const monitoring = operations.monitoring
  ? new PipelineMonitoring(
      "pixel-monitoring",
      {
        stack: config.stack,
        project: config.project,
        core,
        settings: operations.monitoring,
        requestLogFilter: requestLogs.filter,
        functionServiceId: collector.service.name,
        pushSubscriptionId: delivery.pushSubscriptionId,
        deadLetterSubscriptionId: delivery.deadLetterSubscriptionId,
      },
      afterApis,
    )
  : undefined;

export const ipAddress = edge.ipAddress;
export const pixelUrl = edge.ipAddress.apply((ip) => examples.pixelUrl(core, ip, domain));
export const imgTag = pixelUrl.apply((url) => examples.imgTag(examples.examplePixelUrl(core, url)));
export const httpOnly = domain === undefined;
export const servingNote = examples.servingNote(domain);
export const datasetId = pulumi.interpolate`${config.project}.${warehouse.datasetId}`;
export const templateTableId = pulumi.interpolate`${datasetId}.${warehouse.templateTableId}`;
export const requestLogTopic = requestLogs.topic.id;
export const deadLetterSubscription = delivery.deadLetterSubscriptionId;
export const archiveBucket = archive ? pulumi.interpolate`gs://${archive.bucketName}` : undefined;
export const dashboardUrl = monitoring?.dashboardUrl;
export const exampleQuery = warehouse.datasetId.apply((id) =>
  examples.exampleQuery(config.project, id, core, examples.lastUtcDays(new Date(), 7)),
);
export const eventsViewId = pulumi.interpolate`${datasetId}.${analytics.eventsViewId}`;
export const lookerStudioUrl = analytics.eventsViewId.apply((view) =>
  reporting.lookerStudioUrl({ project: config.project, dataset: config.datasetId, table: view, reportName: `Pixel events (${config.stack})` }),
);
export const tenantViewQueries = reporting.tenantViewQueries(config.project, config.datasetId, core);
