import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

export interface RequestLogExportArgs {
  /** The forwarding rule serving the pixel; other load balancers in the project are not exported. */
  readonly forwardingRuleName: pulumi.Input<string>;
  /**
   * Keep these entries out of the project's `_Default` log bucket. Sinks and log-based metrics
   * still see excluded entries; only their storage (and its bill) in Cloud Logging goes.
   */
  readonly excludeFromDefaultBucket: boolean;
  /**
   * Streaming: route the entries to a Pub/Sub topic, one message per request. Batch loads the raw
   * archive's files instead, so there is no topic and no Pub/Sub sink; the filter and the
   * exclusion stay, as the archive's sink and the request metric use them.
   */
  readonly toPubSub: boolean;
}

/** This load balancer's request logs: the sinks, the `_Default` exclusion and the request metric all use it. */
export function requestLogFilter(forwardingRuleName: string): string {
  return `resource.type="http_load_balancer" AND resource.labels.forwarding_rule_name="${forwardingRuleName}"`;
}

/** Selects the pixel's load balancer request logs, and routes them to a Pub/Sub topic, one message per request, when streaming. */
export class RequestLogExport extends pulumi.ComponentResource {
  /** Only with toPubSub. */
  public readonly topic?: gcp.pubsub.Topic;
  public readonly filter: pulumi.Output<string>;

  constructor(name: string, args: RequestLogExportArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:RequestLogExport", name, {}, opts);

    this.filter = pulumi.output(args.forwardingRuleName).apply(requestLogFilter);
    if (args.toPubSub) {
      const topic = new gcp.pubsub.Topic(`${name}-topic`, {}, { parent: this });
      const sink = new gcp.logging.ProjectSink(
        `${name}-sink`,
        { destination: pulumi.interpolate`pubsub.googleapis.com/${topic.id}`, filter: this.filter, uniqueWriterIdentity: true },
        { parent: this },
      );
      // uniqueWriterIdentity gives one logging service agent for all of the project's sinks, not one
      // per sink: the archive sink writes as the same identity. Each grant is on its own destination only.
      new gcp.pubsub.TopicIAMMember(`${name}-sink-publisher`, { topic: topic.name, role: "roles/pubsub.publisher", member: sink.writerIdentity }, { parent: this });
      this.topic = topic;
    }

    if (args.excludeFromDefaultBucket) {
      // Applies to the project's _Default sink only: every other sink still routes these entries.
      new gcp.logging.ProjectExclusion(
        `${name}-default-exclusion`,
        {
          description: args.toPubSub ? "Pixel request logs: exported to Pub/Sub (and the raw archive), not stored twice" : "Pixel request logs: kept in the raw archive, not stored twice",
          filter: this.filter,
        },
        { parent: this },
      );
    }

    this.registerOutputs({ topic: this.topic?.id, filter: this.filter });
  }
}
