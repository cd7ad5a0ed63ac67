import * as pulumi from "@pulumi/pulumi";

interface WaitInputs {
  /** What the wait is for, as propagationTrigger writes it; also the resource's id. */
  readonly trigger: string;
  readonly seconds: number;
}

/** Exported for its test: what an update does with a wait. */
export const waitProvider: pulumi.dynamic.ResourceProvider<WaitInputs> = {
  async create(inputs) {
    await new Promise((resolve) => setTimeout(resolve, inputs.seconds * 1000));
    return { id: inputs.trigger, outs: inputs };
  },
  async diff(_id, olds: WaitInputs, news) {
    const changed = olds.trigger !== news.trigger;
    return { changes: changed, replaces: changed ? ["trigger"] : [] };
  },
};

/** The changes a wait is for, in one string that is the same whatever order they come in: a new or different one waits again. */
export function propagationTrigger(changes: readonly string[]): string {
  return [...new Set(changes)].sort().join(", ");
}

export interface PropagationWaitArgs {
  /** The changes that must settle, through propagationTrigger: the wait runs again when it changes, and only then. */
  readonly trigger: pulumi.Input<string>;
  readonly seconds: number;
}

/**
 * Pauses once after changes that Google applies eventually, not when their resource completes: a
 * just-enabled API, or a new IAM grant. The trigger names the changes (and so depends on their
 * resources); make the resources that need them depend on this. An unchanged trigger is no change,
 * so an update that adds nothing to wait for does not wait.
 */
export class PropagationWait extends pulumi.dynamic.Resource {
  constructor(name: string, args: PropagationWaitArgs, opts?: pulumi.CustomResourceOptions) {
    super(waitProvider, name, { trigger: args.trigger, seconds: args.seconds }, opts);
  }
}
