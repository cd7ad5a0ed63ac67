import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CoreSettings, readCoreSettings, withSigningKeys } from "../core/config/coreSettings";
import { CONFIG_NAMESPACE, ConfigError, ConfigProblems, RawConfig } from "../core/config/fields";

export const PROJECT_ROOT = path.join(__dirname, "..");

/**
 * The `pixel-pipeline:` keys of Pulumi.<stack>.yaml, without the namespace. Tools that run
 * without the Pulumi CLI (the parse command, the local pipeline) read the stack file directly
 * and validate it with the same readers as the Pulumi program.
 */
export function readStackFile(stack: string, root = PROJECT_ROOT): RawConfig {
  const prefix = `${CONFIG_NAMESPACE}:`;
  return Object.fromEntries(
    Object.entries(readStackDocumentConfig(stack, root))
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => [key.slice(prefix.length), value]),
  );
}

/** The stack's `gcp:project`, for tools that call Google APIs without the Pulumi CLI. */
export function readStackProject(stack: string, root = PROJECT_ROOT): string | undefined {
  const project = readStackDocumentConfig(stack, root)["gcp:project"];
  return typeof project === "string" && project !== "" ? project : undefined;
}

/** Every key of the stack file's `config`, namespaces included. */
function readStackDocumentConfig(stack: string, root: string): Record<string, unknown> {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new ConfigError([`stack "${stack}": ${file} does not exist; create it or pass --stack with an existing stack name.`]);
  }
  return ((parse(text) ?? {}) as { config?: Record<string, unknown> }).config ?? {};
}

/**
 * The parser settings of a stack; throws a ConfigError listing every problem. The stack file
 * holds signing keys only encrypted, so local tools take them from PIXEL_SIGNING_KEYS.
 */
export function readStackCoreSettings(stack: string, root = PROJECT_ROOT, environment: NodeJS.ProcessEnv = process.env): CoreSettings {
  const problems = new ConfigProblems();
  const settings = readCoreSettings(readStackFile(stack, root), problems);
  if (!problems.isEmpty) throw new ConfigError(problems.messages);
  return withSigningKeys(settings, environment);
}
