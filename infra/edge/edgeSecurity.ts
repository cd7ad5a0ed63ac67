import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { edgePolicyRules } from "./edgeRules";
import type { EdgeSecuritySettings } from "../../core/config/operations";

export interface EdgeSecurityArgs {
  readonly settings: EdgeSecuritySettings;
}

/**
 * A Cloud Armor edge security policy for the pixel's backend bucket. Edge policies are the only
 * kind a backend bucket takes; they run before the CDN cache, so cache hits are filtered too.
 */
export class EdgeSecurity extends pulumi.ComponentResource {
  /** For `BackendBucket.edgeSecurityPolicy`. */
  public readonly policyId: pulumi.Output<string>;

  constructor(name: string, args: EdgeSecurityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:EdgeSecurity", name, {}, opts);
    const policy = new gcp.compute.SecurityPolicy(
      `${name}-policy`,
      { type: "CLOUD_ARMOR_EDGE", description: "Pixel edge policy: denied IP ranges and regions", rules: edgePolicyRules(args.settings) },
      { parent: this },
    );
    this.policyId = policy.id;
    this.registerOutputs({ policyId: this.policyId });
  }
}
