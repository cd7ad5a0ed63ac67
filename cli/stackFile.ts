import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { countryTableOnFirstUse } from "../assets/countryTable";
import { withSigningKeys, withVisitorKey } from "../core/config/coreSettings";
import type { CoreSettings } from "../core/config/coreSettings";
import { CONFIG_NAMESPACE, ConfigError } from "../core/config/fields";
import { validateStackConfig } from "../core/config/stackConfig";
import type { StackConfig } from "../core/config/stackConfig";
import { SIGNING_KEYS_VARIABLE, VISITOR_KEY_VARIABLE } from "../core/functionContract";

export const PROJECT_ROOT = path.join(__dirname, "..");

/** A stack as the commands see it: its file validated as the Pulumi program validates its config. */
export interface LocalStack {
  /** Every setting, validated; `project` is "" when the file sets no gcp:project. */
  readonly config: StackConfig;
  /**
   * The parser's settings, with the country table, the signing keys from the environment when
   * signedUrls is on, and the visitor key from the environment when it is set there.
   */
  readonly settings: CoreSettings;
  /** `gcp:project`, when the file sets it. */
  readonly project?: string;
}

/**
 * Reads Pulumi.<stack>.yaml without the Pulumi CLI and validates all of it with the program's own
 * validator, so a mistyped or unknown key stops a command with the message `pulumi up` would give.
 * Throws a ConfigError listing every problem. The stack file holds the signing keys only
 * encrypted, so the commands take them from PIXEL_SIGNING_KEYS; the visitor key, which lives in
 * Secret Manager only, from PIXEL_VISITOR_KEY.
 */
export function readStack(stack: string, root = PROJECT_ROOT, environment: NodeJS.ProcessEnv = process.env): LocalStack {
  const document = readStackDocumentConfig(stack, root);
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, unknown> = {};
  const encrypted: string[] = [];
  for (const [key, value] of Object.entries(document)) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    if (typeof value === "object" && value !== null && "secure" in value) encrypted.push(name);
    else raw[name] = value;
  }
  const problems = encrypted
    .filter((name) => name !== "signingKeys")
    .map((name) => `${prefix}${name}: is encrypted in Pulumi.${stack}.yaml, and only signingKeys may be: the local commands cannot decrypt it.`);
  if (environment[SIGNING_KEYS_VARIABLE]) raw.signingKeys = environment[SIGNING_KEYS_VARIABLE];
  let config: StackConfig | undefined;
  try {
    config = validateStackConfig(raw, { stack, project: textValue(document["gcp:project"]), providerRegion: textValue(document["gcp:region"]), projectOptional: true });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (!config || problems.length > 0) throw new ConfigError(problems);
  const project = config.project || undefined;
  const settings = withSigningKeys(config.core, { [SIGNING_KEYS_VARIABLE]: config.signingKeys });
  return {
    config,
    settings: { ...(environment[VISITOR_KEY_VARIABLE] ? withVisitorKey(settings, environment) : settings), countries: countryTableOnFirstUse() },
    ...(project ? { project } : {}),
  };
}

function textValue(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
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
