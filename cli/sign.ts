// npm run --silent sign -- key=<signing key> user_id=acme type=click [--base https://track.example.com/pixel.png]
// Prints a signed pixel URL. Without key=, the key comes from PIXEL_SIGNING_KEYS (the first one).
import { MIN_SIGNING_KEY_LENGTH } from "../core/config/coreSettings";
import { SIGNING_KEYS_VARIABLE } from "../core/functionContract";
import { pixelUrl } from "../core/signature";
import { defineCommand, runCommand, UsageError } from "./runner";
import { readStack } from "./stackFile";

const LOCAL_SERVER = "http://127.0.0.1:8080";

const USAGE = `Usage: npm run --silent sign -- [key=KEY] NAME=VALUE ... [--base URL] [--stack NAME]
Prints a pixel URL signed with HMAC-SHA256, as the function checks it with signedUrls on.
  key=KEY          the signing key (default: the first key in $${SIGNING_KEYS_VARIABLE})
  NAME=VALUE       a query parameter of the pixel URL, e.g. user_id=acme type=click
  --base URL       the pixel URL without query (default: the stack's pixel path on ${LOCAL_SERVER})
  --stack NAME     the stack whose pixel path to use, from Pulumi.NAME.yaml (default dev)
  -h, --help       this help`;

export const signCommand = defineCommand({
  usage: USAGE,
  args: { options: { base: { type: "string" }, stack: { type: "string", default: "dev" } }, allowPositionals: true },
  run({ values, positionals }) {
    const { key, parameters } = signingRequest(positionals, process.env);
    // The stack is read with the key given here, so a stack with signedUrls on needs no other.
    const base = values.base ?? `${LOCAL_SERVER}${readStack(values.stack, undefined, { ...process.env, [SIGNING_KEYS_VARIABLE]: key }).settings.pixelPath}`;
    console.log(pixelUrl(base, parameters, key));
  },
});

/** The key and the parameters of `name=value` arguments; `key=` names the key, else the environment's first. */
export function signingRequest(assignments: readonly string[], environment: NodeJS.ProcessEnv): { key: string; parameters: Record<string, string> } {
  const parameters: Record<string, string> = {};
  let key = environment[SIGNING_KEYS_VARIABLE]?.split(/[\n,]/)[0]?.trim();
  for (const assignment of assignments) {
    const separator = assignment.indexOf("=");
    if (separator <= 0) throw new UsageError(`"${assignment}" is not name=value.`);
    const [name, value] = [assignment.slice(0, separator), assignment.slice(separator + 1)];
    if (name === "key") key = value;
    else parameters[name] = value;
  }
  if (!key) throw new UsageError(`no signing key: pass key=<key> or set ${SIGNING_KEYS_VARIABLE}.`);
  if (key.length < MIN_SIGNING_KEY_LENGTH) {
    throw new UsageError(`the signing key has ${key.length} characters and needs at least ${MIN_SIGNING_KEY_LENGTH}, as the function requires; generate one with: openssl rand -base64 32`);
  }
  return { key, parameters };
}

/** The signed pixel URL for `name=value` arguments. */
export function signedUrl(base: string, assignments: readonly string[], environment: NodeJS.ProcessEnv): string {
  const { key, parameters } = signingRequest(assignments, environment);
  return pixelUrl(base, parameters, key);
}

if (require.main === module) void runCommand(signCommand);
