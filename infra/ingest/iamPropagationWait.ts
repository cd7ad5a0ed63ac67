import * as pulumi from "@pulumi/pulumi";

/** How long Google's own example waits for a new build service account's roles to take effect. */
export const IAM_PROPAGATION_SECONDS = 60;

interface WaitInputs {
  readonly member: string;
  readonly seconds: number;
}

const waitProvider: pulumi.dynamic.ResourceProvider<WaitInputs> = {
  async create(inputs) {
    await new Promise((resolve) => setTimeout(resolve, inputs.seconds * 1000));
    return { id: inputs.member, outs: inputs };
  },
  async diff(_id, olds: WaitInputs, news) {
    return { changes: olds.member !== news.member, replaces: olds.member !== news.member ? ["member"] : [] };
  },
};

export interface IamPropagationWaitArgs {
  /** The principal whose new grants must settle; a new principal waits again. */
  readonly member: pulumi.Input<string>;
}

/**
 * Pauses once after a principal's first grants, because IAM changes take a while to reach every
 * service: a function build that starts at once can fail to read its own source. Pass the grants
 * as dependsOn, and make the resource that needs them depend on this.
 */
export class IamPropagationWait extends pulumi.dynamic.Resource {
  constructor(name: string, args: IamPropagationWaitArgs, opts?: pulumi.CustomResourceOptions) {
    super(waitProvider, name, { member: args.member, seconds: IAM_PROPAGATION_SECONDS }, opts);
  }
}
