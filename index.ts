// The pixel pipeline: pixel bucket -> load balancer + Cloud CDN -> request logs -> Pub/Sub push
// -> collector function -> BigQuery day tables per tenant. docs/deploy.md explains each part.
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { ProjectApis } from "./infra/apis";
import { CollectorFunction } from "./infra/collectorFunction";
import { loadStackConfig } from "./infra/config";
import { EventWarehouse } from "./infra/eventWarehouse";
import * as examples from "./infra/examples";
import { bundleFunction } from "./infra/functionBundle";
import { PixelLoadBalancer } from "./infra/loadBalancer";
import { PixelBucket } from "./infra/pixelBucket";
import { PushDelivery } from "./infra/pushDelivery";
import { RequestLogExport } from "./infra/requestLogExport";

const config = loadStackConfig();
const { core, domain } = config;

// Everything else waits for the APIs, so a fresh project deploys in one `pulumi up`.
const apis = new ProjectApis("pixel-apis", { project: config.project });
const afterApis = { dependsOn: apis };

const pixel = new PixelBucket("pixel", { location: config.region, pixelPath: core.pixelPath }, afterApis);
const edge = new PixelLoadBalancer("pixel-edge", { bucketName: pixel.bucketName, domain }, afterApis);
const requestLogs = new RequestLogExport("pixel-logs", { forwardingRuleName: edge.servingRuleName }, afterApis);
const warehouse = new EventWarehouse(
  "pixel-events",
  { datasetId: config.datasetId, location: config.datasetLocation, core, deletionProtection: config.deletionProtection },
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

export const ipAddress = edge.ipAddress;
export const pixelUrl = edge.ipAddress.apply((ip) => examples.pixelUrl(core, ip, domain));
export const imgTag = pixelUrl.apply((url) => examples.imgTag(examples.examplePixelUrl(core, url)));
export const httpOnly = domain === undefined;
export const servingNote = examples.servingNote(domain);
export const datasetId = pulumi.interpolate`${config.project}.${warehouse.datasetId}`;
export const templateTableId = pulumi.interpolate`${datasetId}.${warehouse.templateTableId}`;
export const requestLogTopic = requestLogs.topic.id;
export const deadLetterSubscription = delivery.deadLetterSubscriptionId;
export const exampleQuery = warehouse.datasetId.apply((id) =>
  examples.exampleQuery(config.project, id, core, examples.lastUtcDays(new Date(), 7)),
);
