import { ARCHIVE_OBJECT_DEAD_REASON } from "../../core/batchLoad";
import type { MonitoringSettings } from "../../core/config/operations";

/**
 * What Cloud Monitoring watches, as plain data: log filters and label extractors for the two
 * log-based metrics, the alert conditions and the dashboard. The Monitoring component only turns
 * these into resources.
 */

/** The names everything below refers to, once the resources exist. */
interface CommonNames {
  /** Log-based metric counting pixel requests, by tenant. */
  readonly requestMetric: string;
  /** Log-based metric counting the functions' refusals and failures, by reason. */
  readonly refusalMetric: string;
  /** The Cloud Run service behind the function that writes the events: the collector, or the batch loader. */
  readonly serviceName: string;
}

/** Streaming: the collector and the subscriptions that deliver to it. */
export interface StreamingNames extends CommonNames {
  readonly ingest?: "streaming";
  /** Short subscription ids, as Pub/Sub metrics label them. */
  readonly pushSubscription: string;
  readonly deadLetterSubscription: string;
}

/** Batch: the loader, the sweep, and the count of archive objects recorded dead. */
export interface BatchNames extends CommonNames {
  readonly ingest: "batch";
  readonly sweepServiceName: string;
  /** Log-based metric counting the ARCHIVE_OBJECT_DEAD_REASON lines. */
  readonly deadObjectMetric: string;
}

export type MonitoredNames = StreamingNames | BatchNames;

export const REQUEST_METRIC_LABEL = "tenant";
export const REFUSAL_METRIC_LABEL = "reason";
/** The function logs one JSON line per refusal or failed write; Cloud Run puts it in jsonPayload. */
export const REFUSAL_LABEL_EXTRACTOR = `EXTRACT(jsonPayload.${REFUSAL_METRIC_LABEL})`;

/** The last segment of a resource id: `projects/p/subscriptions/s` → `s`. */
export function resourceName(id: string): string {
  return id.slice(id.lastIndexOf("/") + 1);
}

export function logMetricType(metricName: string): string {
  return `logging.googleapis.com/user/${metricName}`;
}

/** Regex metacharacters a pixel path may contain; a character class matches each literally without backslashes. */
const REGEX_SPECIAL = /[.()*+$]/g;

/**
 * Pixel requests that the function turns into events unless the tenant or signature is refused:
 * GETs of the pixel path answered 200 or 304, without CDN sub-requests. Accepted events are not
 * logged one by one (that would double the Logging bill), so this is what the dashboard counts.
 */
export function pixelRequestFilter(requestLogFilter: string, pixelPath: string): string {
  const path = pixelPath.replace(REGEX_SPECIAL, (character) => `[${character}]`);
  return [
    requestLogFilter,
    'httpRequest.requestMethod="GET"',
    "(httpRequest.status=200 OR httpRequest.status=304)",
    "NOT jsonPayload.parentInsertId:*",
    `httpRequest.requestUrl=~"^[a-z]+://[^/?#]+${path}([?#]|$)"`,
  ].join(" AND ");
}

/** The tenant as it appears in the URL (still percent-encoded), first occurrence. */
export function tenantLabelExtractor(tenantAttribute: string): string {
  return `REGEXP_EXTRACT(httpRequest.requestUrl, "[?&]${tenantAttribute}=([^&#]*)")`;
}

/** The log lines of these functions' Cloud Run services. */
function servicesLogFilter(serviceNames: readonly string[]): string {
  const services = serviceNames.map((name) => `resource.labels.service_name="${name}"`);
  return `resource.type="cloud_run_revision" AND ${services.length === 1 ? services[0] : `(${services.join(" OR ")})`}`;
}

/** The functions' refusal and failure lines: every line they write with a reason. */
export function refusalLogFilter(...serviceNames: string[]): string {
  return `${servicesLogFilter(serviceNames)} AND jsonPayload.${REFUSAL_METRIC_LABEL}:*`;
}

/** The line the batch functions write once for each archive object they record as dead. */
export function deadObjectLogFilter(...serviceNames: string[]): string {
  return `${servicesLogFilter(serviceNames)} AND jsonPayload.${REFUSAL_METRIC_LABEL}="${ARCHIVE_OBJECT_DEAD_REASON}"`;
}

export interface Aggregation {
  readonly alignmentPeriod: string;
  readonly perSeriesAligner: string;
  readonly crossSeriesReducer?: string;
  readonly groupByFields?: string[];
}

export interface ThresholdCondition {
  readonly filter: string;
  readonly aggregations: Aggregation[];
  readonly comparison: "COMPARISON_GT";
  readonly thresholdValue: number;
  readonly duration: string;
  readonly trigger: { readonly count: number };
}

export interface AlertSpec<Names = StreamingNames> {
  /** Resource name suffix, and the anchor of its runbook entry in docs/operations.md. */
  readonly key: string;
  readonly displayName: string;
  readonly severity: "ERROR" | "WARNING";
  /** Shown in the incident and the notification: what it means and what to do. */
  readonly runbook: string;
  /** The condition, once the names of what it watches are known. */
  readonly condition: (names: Names) => ThresholdCondition;
}

function functionResponsesFilter(serviceName: string): string {
  return `metric.type="run.googleapis.com/request_count" AND resource.type="cloud_run_revision" AND resource.label.service_name="${serviceName}"`;
}

function subscriptionFilter(metric: string, subscription: string): string {
  return `metric.type="pubsub.googleapis.com/subscription/${metric}" AND resource.type="pubsub_subscription" AND resource.label.subscription_id="${subscription}"`;
}

const FIVE_MINUTES_MAX: Aggregation = { alignmentPeriod: "300s", perSeriesAligner: "ALIGN_MAX" };
const FIVE_MINUTES_SUM: Aggregation = { alignmentPeriod: "300s", perSeriesAligner: "ALIGN_DELTA", crossSeriesReducer: "REDUCE_SUM" };

/**
 * A function that answered its trigger with 5xx for 15 minutes without a break. A transient
 * BigQuery error heals within a few retries; only failure that persists pages.
 */
function persistentServerErrors(serviceName: string): ThresholdCondition {
  return {
    filter: `${functionResponsesFilter(serviceName)} AND metric.label.response_code_class="5xx"`,
    aggregations: [FIVE_MINUTES_SUM],
    comparison: "COMPARISON_GT",
    thresholdValue: 0,
    duration: "900s",
    trigger: { count: 1 },
  };
}

/** The three conditions that mean streamed events are not reaching BigQuery, and the runbook for each. */
export function alertSpecs(settings: Pick<MonitoringSettings, "backlogAlertMinutes">): AlertSpec[] {
  return [
    {
      key: "function-errors",
      displayName: "Pixel function failing",
      severity: "ERROR",
      runbook:
        "The collector function has answered Pub/Sub with 5xx errors for 15 minutes without a break: writes to BigQuery keep failing (quota, permissions, a deleted dataset) or the function crashes at start-up. Pub/Sub retries every message, so nothing is lost yet, but messages dead-letter once they run out of attempts. Read the function's `write_failed` and `row_rejected` log lines, fix the cause, then `npm run redrive` whatever was dead-lettered meanwhile. Runbook: docs/operations.md#function-errors.",
      condition: (names) => persistentServerErrors(names.serviceName),
    },
    {
      key: "dead-letters",
      displayName: "Pixel dead letters waiting",
      severity: "ERROR",
      runbook:
        "Messages sit on the dead-letter subscription: their events are not in BigQuery. Pull a few without removing them (`pulumi stack output --json | npm run redrive -- --stack <stack> --outputs - --dry-run` counts them by table), find out why the function failed them in its `row_rejected` or `write_failed` log lines, fix that, then move them back with `pulumi stack output --json | npm run redrive -- --stack <stack> --outputs -`. Dead letters are kept 31 days. Runbook: docs/operations.md#dead-letters.",
      condition: (names) => ({
        filter: subscriptionFilter("num_undelivered_messages", names.deadLetterSubscription),
        aggregations: [FIVE_MINUTES_MAX],
        comparison: "COMPARISON_GT",
        thresholdValue: 0,
        duration: "0s",
        trigger: { count: 1 },
      }),
    },
    {
      key: "backlog-age",
      displayName: "Pixel delivery backlog",
      severity: "WARNING",
      runbook: `The oldest message waiting for the function is more than ${settings.backlogAlertMinutes} minutes old: events are reaching BigQuery late or not at all. The function is failing (see its 5xx responses), or it is at functionMaxInstances and cannot keep up. Check the dashboard's backlog and function charts; raise functionMaxInstances for a lasting traffic increase. Runbook: docs/operations.md#backlog-age.`,
      condition: (names) => ({
        filter: subscriptionFilter("oldest_unacked_message_age", names.pushSubscription),
        aggregations: [FIVE_MINUTES_MAX],
        comparison: "COMPARISON_GT",
        thresholdValue: settings.backlogAlertMinutes * 60,
        duration: "0s",
        trigger: { count: 1 },
      }),
    },
  ];
}

/**
 * The batch tier's two conditions: the loader failing for a while (Eventarc retries, so nothing is
 * lost yet), and an archive object recorded dead (its rows are not in BigQuery until someone acts).
 */
export function batchAlertSpecs(): AlertSpec<BatchNames>[] {
  return [
    {
      key: "loader-errors",
      displayName: "Pixel batch loader failing",
      severity: "ERROR",
      runbook:
        "The batch loader has answered Eventarc with errors for 15 minutes without a break: Cloud Storage or BigQuery refuses it (permissions, quota, a deleted dataset), or it crashes at start-up. Eventarc retries each object's event for up to 24 hours and the hourly sweep loads what it missed, so nothing is lost yet; an object that fails every attempt is recorded dead. Read the loader's `archive_load_failed` log lines and fix the cause. Runbook: docs/operations.md#loader-errors.",
      condition: (names) => persistentServerErrors(names.serviceName),
    },
    {
      key: "archive-object-dead",
      displayName: "Pixel archive object not loaded",
      severity: "ERROR",
      runbook: `An archive object was recorded dead: over the size bound, refused by BigQuery, or failed on every attempt. Its rows are not in BigQuery, and neither the loader nor the sweep tries it again. The \`${ARCHIVE_OBJECT_DEAD_REASON}\` log line names the object and the cause, and the load ledger its attempts. Fix the cause, then load the object's days again with \`npm run replay -- --rebuild\`. Runbook: docs/operations.md#archive-object-dead.`,
      condition: (names) => ({
        filter: `metric.type="${logMetricType(names.deadObjectMetric)}"`,
        aggregations: [FIVE_MINUTES_SUM],
        comparison: "COMPARISON_GT",
        thresholdValue: 0,
        duration: "0s",
        trigger: { count: 1 },
      }),
    },
  ];
}

interface Chart {
  readonly title: string;
  readonly filter: string;
  readonly aggregation: Aggregation;
  readonly plotType: "LINE" | "STACKED_AREA";
  readonly yAxis: string;
}

const PER_MINUTE = { alignmentPeriod: "60s", perSeriesAligner: "ALIGN_DELTA", crossSeriesReducer: "REDUCE_SUM" } as const;
const DASHBOARD_COLUMNS = 48;
const TILE = { width: 24, height: 16 } as const;

/** The Cloud Monitoring dashboard, as the `dashboardJson` of gcp.monitoring.Dashboard. */
export function dashboardJson(stack: string, names: MonitoredNames): string {
  const charts: Chart[] = [
    {
      title: "Pixel events per minute, by tenant",
      filter: `metric.type="${logMetricType(names.requestMetric)}"`,
      aggregation: { ...PER_MINUTE, groupByFields: [`metric.label.${REQUEST_METRIC_LABEL}`] },
      plotType: "STACKED_AREA",
      yAxis: "requests/min",
    },
    {
      title: "Refusals and failed writes per minute, by reason",
      filter: `metric.type="${logMetricType(names.refusalMetric)}"`,
      aggregation: { ...PER_MINUTE, groupByFields: [`metric.label.${REFUSAL_METRIC_LABEL}`] },
      plotType: "STACKED_AREA",
      yAxis: "entries/min",
    },
    {
      title: "Function responses per minute, by class",
      filter: functionResponsesFilter(names.serviceName),
      aggregation: { ...PER_MINUTE, groupByFields: ["metric.label.response_code_class"] },
      plotType: "STACKED_AREA",
      yAxis: "responses/min",
    },
    ...(names.ingest === "batch" ? batchCharts(names) : streamingCharts(names)),
  ];
  const perRow = DASHBOARD_COLUMNS / TILE.width;
  return JSON.stringify({
    displayName: `Pixel pipeline (${stack})`,
    mosaicLayout: {
      columns: DASHBOARD_COLUMNS,
      tiles: charts.map((chart, index) => ({
        xPos: (index % perRow) * TILE.width,
        yPos: Math.floor(index / perRow) * TILE.height,
        ...TILE,
        widget: {
          title: chart.title,
          xyChart: {
            dataSets: [{ timeSeriesQuery: { timeSeriesFilter: { filter: chart.filter, aggregation: chart.aggregation } }, plotType: chart.plotType, targetAxis: "Y1" }],
            yAxis: { label: chart.yAxis, scale: "LINEAR" },
          },
        },
      })),
    },
  });
}

/** What backs up or dead-letters on the way to the collector. */
function streamingCharts(names: StreamingNames): Chart[] {
  return [
    {
      title: "Age of the oldest undelivered message (s)",
      filter: subscriptionFilter("oldest_unacked_message_age", names.pushSubscription),
      aggregation: { alignmentPeriod: "60s", perSeriesAligner: "ALIGN_MAX" },
      plotType: "LINE",
      yAxis: "seconds",
    },
    {
      title: "Messages waiting for the function",
      filter: subscriptionFilter("num_undelivered_messages", names.pushSubscription),
      aggregation: { alignmentPeriod: "60s", perSeriesAligner: "ALIGN_MAX" },
      plotType: "LINE",
      yAxis: "messages",
    },
    {
      title: "Dead letters waiting (npm run redrive)",
      filter: subscriptionFilter("num_undelivered_messages", names.deadLetterSubscription),
      aggregation: { alignmentPeriod: "60s", perSeriesAligner: "ALIGN_MAX" },
      plotType: "LINE",
      yAxis: "messages",
    },
  ];
}

/** What the batch tier could not load. */
function batchCharts(names: BatchNames): Chart[] {
  return [
    {
      title: "Archive objects recorded dead, by hour",
      filter: `metric.type="${logMetricType(names.deadObjectMetric)}"`,
      aggregation: { alignmentPeriod: "3600s", perSeriesAligner: "ALIGN_DELTA", crossSeriesReducer: "REDUCE_SUM" },
      plotType: "LINE",
      yAxis: "objects",
    },
  ];
}

/** Where the dashboard opens in the console; its resource id is `projects/<number>/dashboards/<id>`. */
export function dashboardConsoleUrl(project: string, dashboardId: string): string {
  return `https://console.cloud.google.com/monitoring/dashboards/custom/${resourceName(dashboardId)}?project=${project}`;
}
