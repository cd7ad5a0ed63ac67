import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import type { CoreSettings } from "../../core/config/coreSettings";
import { DELIVERY_FAILURE_REASONS } from "../../core/delivery";
import {
  AlertSpec,
  alertSpecs,
  BatchNames,
  batchAlertSpecs,
  deadObjectLogFilter,
  dashboardConsoleUrl,
  dashboardJson,
  MonitoredNames,
  pixelRequestFilter,
  REFUSAL_LABEL_EXTRACTOR,
  REFUSAL_METRIC_LABEL,
  refusalLogFilter,
  REQUEST_METRIC_LABEL,
  resourceName,
  StreamingNames,
  tenantLabelExtractor,
  ThresholdCondition,
} from "./monitoringSpec";
import type { MonitoringSettings } from "../../core/config/operations";

export interface PipelineMonitoringArgs {
  /** The stack name, with the pipeline's name when it is not the default: keeps project-unique ids and display names apart. */
  readonly scope: string;
  readonly project: string;
  readonly core: CoreSettings;
  readonly settings: MonitoringSettings;
  /** The load balancer's request logs, as the sinks select them. */
  readonly requestLogFilter: pulumi.Input<string>;
  /** `projects/<p>/locations/<region>/services/<name>` of the function that writes the events: the collector, or the batch loader. */
  readonly functionServiceId: pulumi.Input<string>;
  /** What else the tier has to watch: the collector's subscriptions, or the batch tier's sweep. */
  readonly tier: StreamingTier | BatchTier;
}

export interface StreamingTier {
  readonly ingest: "streaming";
  readonly pushSubscriptionId: pulumi.Input<string>;
  readonly deadLetterSubscriptionId: pulumi.Input<string>;
}

export interface BatchTier {
  readonly ingest: "batch";
  /** The sweep's service id: it loads objects too, so its refusals and dead objects count. */
  readonly sweepServiceId: pulumi.Input<string>;
}

/** Incidents close by themselves a week after their condition stops holding. */
const AUTO_CLOSE = "604800s";

/**
 * Log-based metrics, alert policies, an optional e-mail channel and a dashboard: operators learn
 * that events stopped reaching BigQuery from an alert, not from a chart that went quiet.
 */
export class PipelineMonitoring extends pulumi.ComponentResource {
  public readonly dashboardUrl: pulumi.Output<string>;

  constructor(name: string, args: PipelineMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:PipelineMonitoring", name, {}, opts);
    const serviceName = pulumi.output(args.functionServiceId).apply(resourceName);

    const requests = new gcp.logging.Metric(
      `${name}-pixel-requests`,
      {
        description: "Pixel requests the function turns into events (GET, 200 or 304, no CDN sub-requests), by tenant as written in the URL",
        filter: pulumi.output(args.requestLogFilter).apply((filter) => pixelRequestFilter(filter, args.core.pixelPath)),
        metricDescriptor: {
          metricKind: "DELTA",
          valueType: "INT64",
          unit: "1",
          labels: [{ key: REQUEST_METRIC_LABEL, valueType: "STRING", description: `The ${args.core.tenantAttribute} query parameter, percent-encoded` }],
        },
        labelExtractors: { [REQUEST_METRIC_LABEL]: tenantLabelExtractor(args.core.tenantAttribute) },
      },
      { parent: this },
    );
    const { tier } = args;
    const sweepName = tier.ingest === "batch" ? pulumi.output(tier.sweepServiceId).apply(resourceName) : undefined;
    // Every function that parses entries: the collector, or the loader and the sweep.
    const parserNames = pulumi.all([serviceName, ...(sweepName ? [sweepName] : [])]);
    const refusals = new gcp.logging.Metric(
      `${name}-refusals`,
      {
        description: "Log entries the function refused, and writes that failed, by reason",
        filter: parserNames.apply((names) => refusalLogFilter(...names)),
        metricDescriptor: {
          metricKind: "DELTA",
          valueType: "INT64",
          unit: "1",
          labels: [{ key: REFUSAL_METRIC_LABEL, valueType: "STRING", description: `The refusal reason, or ${Object.keys(DELIVERY_FAILURE_REASONS).join(" or ")}` }],
        },
        labelExtractors: { [REFUSAL_METRIC_LABEL]: REFUSAL_LABEL_EXTRACTOR },
      },
      { parent: this },
    );
    let names: pulumi.Output<MonitoredNames>;
    let alerts: { spec: Omit<AlertSpec, "condition">; condition: pulumi.Output<ThresholdCondition> }[];
    if (tier.ingest === "batch") {
      const deadObjects = new gcp.logging.Metric(
        `${name}-dead-objects`,
        {
          description: "Archive objects the batch tier recorded dead: their rows are not in BigQuery",
          filter: parserNames.apply((names) => deadObjectLogFilter(...names)),
          metricDescriptor: { metricKind: "DELTA", valueType: "INT64", unit: "1" },
        },
        { parent: this },
      );
      const batchNames: pulumi.Output<BatchNames> = pulumi
        .all([requests.name, refusals.name, serviceName, sweepName!, deadObjects.name])
        .apply(([requestMetric, refusalMetric, service, sweep, deadObjectMetric]) => ({
          ingest: "batch" as const,
          requestMetric,
          refusalMetric,
          serviceName: service,
          sweepServiceName: sweep,
          deadObjectMetric,
        }));
      names = batchNames;
      alerts = withConditions(batchAlertSpecs(), batchNames);
    } else {
      const streamingNames: pulumi.Output<StreamingNames> = pulumi
        .all([requests.name, refusals.name, serviceName, tier.pushSubscriptionId, tier.deadLetterSubscriptionId])
        .apply(([requestMetric, refusalMetric, service, push, deadLetters]) => ({
          requestMetric,
          refusalMetric,
          serviceName: service,
          pushSubscription: resourceName(push),
          deadLetterSubscription: resourceName(deadLetters),
        }));
      names = streamingNames;
      alerts = withConditions(alertSpecs(args.settings), streamingNames);
    }

    const email = args.settings.alertEmail;
    const channel =
      email === undefined
        ? undefined
        : new gcp.monitoring.NotificationChannel(
            `${name}-email`,
            { type: "email", displayName: `Pixel pipeline (${args.scope}) alerts`, labels: { email_address: email } },
            { parent: this },
          );
    for (const { spec, condition } of alerts) {
      new gcp.monitoring.AlertPolicy(
        `${name}-${spec.key}`,
        {
          displayName: `${spec.displayName} (${args.scope})`,
          combiner: "OR",
          severity: spec.severity,
          conditions: condition.apply((conditionThreshold) => [{ displayName: spec.displayName, conditionThreshold }]),
          documentation: { content: spec.runbook, mimeType: "text/markdown", subject: `${spec.displayName} (${args.scope})` },
          alertStrategy: { autoClose: AUTO_CLOSE },
          notificationChannels: channel ? [channel.id] : [],
        },
        { parent: this },
      );
    }

    const dashboard = new gcp.monitoring.Dashboard(
      `${name}-dashboard`,
      { dashboardJson: names.apply((resolved) => dashboardJson(args.scope, resolved)) },
      { parent: this },
    );

    this.dashboardUrl = dashboard.id.apply((id) => dashboardConsoleUrl(args.project, id));
    this.registerOutputs({ dashboardUrl: this.dashboardUrl });
  }
}

/** Each alert with its condition, once the names it watches are known. */
function withConditions<Names>(specs: readonly AlertSpec<Names>[], names: pulumi.Output<Names>): { spec: Omit<AlertSpec, "condition">; condition: pulumi.Output<ThresholdCondition> }[] {
  return specs.map((spec) => ({ spec, condition: names.apply(spec.condition) }));
}
