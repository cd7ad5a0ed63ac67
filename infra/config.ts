import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../core/config/fields";
import { stackConfigWarnings, validateStackConfig } from "../core/config/stackConfig";
import type { PixelPipelineArgs } from "./pixelPipeline";

/**
 * The one place that reads the stack's configuration. The `pixel-pipeline:` keys go to the
 * validator as Pulumi hands them over (strings; structured values as JSON), and it reports all
 * problems in one error. The signing keys are wrapped so they stay encrypted in state.
 */
export function loadStackConfig(): PixelPipelineArgs {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw = Object.fromEntries(
    Object.entries(pulumi.runtime.allConfig())
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => [key.slice(prefix.length), value]),
  );
  const gcp = new pulumi.Config("gcp");
  const { signingKeys, ...config } = validateStackConfig(raw, { stack: pulumi.getStack(), project: gcp.get("project"), providerRegion: gcp.get("region") });
  // Logged outside any apply, so `pulumi preview` shows them too.
  for (const warning of stackConfigWarnings(config)) void pulumi.log.warn(warning);
  return signingKeys === undefined ? config : { ...config, signingKeys: pulumi.secret(signingKeys) };
}
