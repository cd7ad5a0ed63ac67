import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

export interface RequestLogExportArgs {
  /** The forwarding rule serving the pixel; other load balancers in the project are not exported. */
  readonly forwardingRuleName: pulumi.Input<string>;
}

/** Routes the pixel's load balancer request logs to a Pub/Sub topic, one message per request. */
export class RequestLogExport extends pulumi.ComponentResource {
  public readonly topic: gcp.pubsub.Topic;

  constructor(name: string, args: RequestLogExportArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:RequestLogExport", name, {}, opts);

    this.topic = new gcp.pubsub.Topic(`${name}-topic`, {}, { parent: this });
    const filter = pulumi.interpolate`resource.type="http_load_balancer" AND resource.labels.forwarding_rule_name="${args.forwardingRuleName}"`;
    const sink = new gcp.logging.ProjectSink(
      `${name}-sink`,
      { destination: pulumi.interpolate`pubsub.googleapis.com/${this.topic.id}`, filter, uniqueWriterIdentity: true },
      { parent: this },
    );
    // The sink's own identity may publish to this topic and nothing else.
    new gcp.pubsub.TopicIAMMember(
      `${name}-sink-publisher`,
      { topic: this.topic.name, role: "roles/pubsub.publisher", member: sink.writerIdentity },
      { parent: this },
    );

    this.registerOutputs({ topic: this.topic.id });
  }
}
