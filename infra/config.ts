import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../functions/core/configFields";
import { StackConfig, validateStackConfig } from "./stackConfig";

/** The validated config, with the signing keys wrapped so they stay encrypted in state. */
export interface DeployConfig extends Omit<StackConfig, "signingKeys"> {
  readonly signingKeys?: pulumi.Output<string>;
}

/**
 * The one place that reads the stack's configuration. The `pixel-pipeline:` keys go to the
 * validator as Pulumi hands them over (strings; structured values as JSON), and it reports all
 * problems in one error.
 */
export function loadStackConfig(): DeployConfig {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw = Object.fromEntries(
    Object.entries(pulumi.runtime.allConfig())
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => [key.slice(prefix.length), value]),
  );
  const gcp = new pulumi.Config("gcp");
  const { signingKeys, ...config } = validateStackConfig(raw, { stack: pulumi.getStack(), project: gcp.get("project"), providerRegion: gcp.get("region") });
  return signingKeys === undefined ? config : { ...config, signingKeys: pulumi.secret(signingKeys) };
}
