// The Pulumi program: read and validate the stack's config, declare one PixelPipeline, export
// what a user needs next. docs/deploy.md explains each output; docs/architecture.md the parts.
import { loadStackConfig } from "./infra/config";
import { DEFAULT_PIPELINE_NAME, PixelPipeline } from "./infra/pixelPipeline";

const pipeline = new PixelPipeline(DEFAULT_PIPELINE_NAME, loadStackConfig());

export const ipAddress = pipeline.ipAddress;
export const pixelUrl = pipeline.pixelUrl;
export const imgTag = pipeline.imgTag;
export const httpOnly = pipeline.httpOnly;
export const servingNote = pipeline.servingNote;
export const datasetId = pipeline.datasetId;
export const templateTableId = pipeline.templateTableId;
export const requestLogTopic = pipeline.requestLogTopic;
export const deadLetterSubscription = pipeline.deadLetterSubscription;
export const archiveBucket = pipeline.archiveBucket;
export const dashboardUrl = pipeline.dashboardUrl;
export const exampleQuery = pipeline.exampleQuery;
export const eventsViewId = pipeline.eventsViewId;
export const lookerStudioUrl = pipeline.lookerStudioUrl;
export const lookerStudioReports = pipeline.lookerStudioReports;
export const tenantViewQueries = pipeline.tenantViewQueries;
export const lookerConnection = pipeline.lookerConnection;
