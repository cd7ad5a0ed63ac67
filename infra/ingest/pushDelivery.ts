import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import type { FunctionService } from "./functionDeployment";
import { declareServiceAgent, SERVICE_AGENTS, serviceAccountId } from "../naming";

/** Redelivery backs off from 10 s to Pub/Sub's maximum of 10 minutes. */
export const PUSH_RETRY_POLICY = { minimumBackoff: "10s", maximumBackoff: "600s" } as const;

/** Pub/Sub's longest retention: dead letters wait a month for someone to look at them. */
export const DEAD_LETTER_RETENTION = "2678400s";

/** Subscriptions expire after 31 idle days by default; a quiet pixel must not lose its pipeline. */
const NEVER_EXPIRE = { ttl: "" };

export interface PushDeliveryArgs {
  /** The stack name, with the pipeline's name when it is not the default: keeps project-unique ids and display names apart. */
  readonly scope: string;
  readonly project: string;
  readonly topic: gcp.pubsub.Topic;
  readonly functionService: pulumi.Input<FunctionService>;
  /** Also the ack deadline: Pub/Sub must not redeliver a message the function is still handling. */
  readonly functionTimeoutSeconds: number;
  readonly maxDeliveryAttempts: number;
}

/**
 * Delivers each log message to the function by Pub/Sub push, with retries and a dead-letter
 * topic. A function's Eventarc trigger manages its own subscription, which has no dead-letter
 * setting, so the pipeline owns the subscription instead.
 */
export class PushDelivery extends pulumi.ComponentResource {
  public readonly deadLetterSubscriptionId: pulumi.Output<string>;
  /** The subscription that pushes to the function: its backlog is what monitoring watches. */
  public readonly pushSubscriptionId: pulumi.Output<string>;

  constructor(name: string, args: PushDeliveryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:PushDelivery", name, {}, opts);
    const service = pulumi.output(args.functionService);
    // Pub/Sub's agent mints the push tokens and moves dead letters; on a fresh project it may not exist yet.
    const pubsubAgent = declareServiceAgent(`${name}-pubsub-agent`, args.project, SERVICE_AGENTS.pubsub, this);

    // The push identity may invoke this function's service and nothing else; Pub/Sub mints its tokens.
    const pushAccount = new gcp.serviceaccount.Account(
      `${name}-push`,
      { accountId: serviceAccountId(args.scope, "push"), displayName: "Pixel pipeline Pub/Sub push" },
      { parent: this },
    );
    const invoker = new gcp.cloudrunv2.ServiceIamMember(
      `${name}-push-invoker`,
      { name: service.name, role: "roles/run.invoker", member: pushAccount.member },
      { parent: this },
    );
    const tokenCreator = new gcp.serviceaccount.IAMMember(
      `${name}-agent-token-creator`,
      { serviceAccountId: pushAccount.name, role: "roles/iam.serviceAccountTokenCreator", member: pubsubAgent },
      { parent: this },
    );

    // Dead letters are kept on a pull subscription: a topic without one would drop them.
    const deadLetterTopic = new gcp.pubsub.Topic(`${name}-dead-letter`, {}, { parent: this });
    const deadLetters = new gcp.pubsub.Subscription(
      `${name}-dead-letters`,
      { topic: deadLetterTopic.name, messageRetentionDuration: DEAD_LETTER_RETENTION, expirationPolicy: NEVER_EXPIRE },
      { parent: this },
    );
    const deadLetterPublisher = new gcp.pubsub.TopicIAMMember(
      `${name}-agent-dead-letter-publisher`,
      { topic: deadLetterTopic.name, role: "roles/pubsub.publisher", member: pubsubAgent },
      { parent: this },
    );

    // Created after its grants, so the first deliveries are not refused for lack of them.
    const pushSubscription = new gcp.pubsub.Subscription(
      `${name}-push`,
      {
        topic: args.topic.name,
        ackDeadlineSeconds: args.functionTimeoutSeconds,
        pushConfig: {
          // The functions framework reads the topic from this path when it turns the push body into a CloudEvent.
          pushEndpoint: pulumi.interpolate`${service.url}/projects/${args.project}/topics/${args.topic.name}`,
          oidcToken: { serviceAccountEmail: pushAccount.email, audience: service.url },
        },
        retryPolicy: PUSH_RETRY_POLICY,
        deadLetterPolicy: { deadLetterTopic: deadLetterTopic.id, maxDeliveryAttempts: args.maxDeliveryAttempts },
        expirationPolicy: NEVER_EXPIRE,
      },
      { parent: this, dependsOn: [invoker, tokenCreator, deadLetterPublisher] },
    );
    // Dead-lettering acks the message on the source subscription, which needs subscriber there.
    new gcp.pubsub.SubscriptionIAMMember(
      `${name}-agent-subscriber`,
      { subscription: pushSubscription.name, role: "roles/pubsub.subscriber", member: pubsubAgent },
      { parent: this },
    );

    this.deadLetterSubscriptionId = deadLetters.id;
    this.pushSubscriptionId = pushSubscription.id;
    this.registerOutputs({ deadLetterSubscriptionId: this.deadLetterSubscriptionId, pushSubscriptionId: this.pushSubscriptionId });
  }
}
