import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import type { CoreSettings } from "../../core/config/coreSettings";
import { DELIVERY_FAILURE_REASONS } from "../../core/delivery";
import {
  alertSpecs,
  dashboardConsoleUrl,
  dashboardJson,
  MonitoredNames,
  pixelRequestFilter,
  REFUSAL_LABEL_EXTRACTOR,
  REFUSAL_METRIC_LABEL,
  refusalLogFilter,
  REQUEST_METRIC_LABEL,
  resourceName,
  tenantLabelExtractor,
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
  /** `projects/<p>/locations/<region>/services/<name>` of the function. */
  readonly functionServiceId: pulumi.Input<string>;
  readonly pushSubscriptionId: pulumi.Input<string>;
  readonly deadLetterSubscriptionId: pulumi.Input<string>;
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
    const refusals = new gcp.logging.Metric(
      `${name}-refusals`,
      {
        description: "Log entries the function refused, and writes that failed, by reason",
        filter: serviceName.apply(refusalLogFilter),
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
    const names: pulumi.Output<MonitoredNames> = pulumi
      .all([requests.name, refusals.name, serviceName, args.pushSubscriptionId, args.deadLetterSubscriptionId])
      .apply(([requestMetric, refusalMetric, service, push, deadLetters]) => ({
        requestMetric,
        refusalMetric,
        serviceName: service,
        pushSubscription: resourceName(push),
        deadLetterSubscription: resourceName(deadLetters),
      }));

    const email = args.settings.alertEmail;
    const channel =
      email === undefined
        ? undefined
        : new gcp.monitoring.NotificationChannel(
            `${name}-email`,
            { type: "email", displayName: `Pixel pipeline (${args.scope}) alerts`, labels: { email_address: email } },
            { parent: this },
          );
    for (const spec of alertSpecs(args.settings)) {
      new gcp.monitoring.AlertPolicy(
        `${name}-${spec.key}`,
        {
          displayName: `${spec.displayName} (${args.scope})`,
          combiner: "OR",
          severity: spec.severity,
          conditions: names.apply((resolved) => [{ displayName: spec.displayName, conditionThreshold: spec.condition(resolved) }]),
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
