// npm run --silent sign -- key=<signing key> user_id=acme type=click [--base https://track.example.com/pixel.png]
// Prints a signed pixel URL. Without key=, the key comes from PIXEL_SIGNING_KEYS (the first one).
import { SIGNING_KEYS_VARIABLE } from "../core/functionContract";
import { pixelUrl } from "../core/signature";
import { defineCommand, runCommand, UsageError } from "./runner";

const LOCAL_PIXEL = "http://127.0.0.1:8080/pixel.png";

const USAGE = `Usage: npm run --silent sign -- [key=KEY] NAME=VALUE ... [--base URL]
Prints a pixel URL signed with HMAC-SHA256, as the function checks it with signedUrls on.
  key=KEY          the signing key (default: the first key in $${SIGNING_KEYS_VARIABLE})
  NAME=VALUE       a query parameter of the pixel URL, e.g. user_id=acme type=click
  --base URL       the pixel URL without query (default ${LOCAL_PIXEL})
  -h, --help       this help`;

export const signCommand = defineCommand({
  usage: USAGE,
  args: { options: { base: { type: "string", default: LOCAL_PIXEL } }, allowPositionals: true },
  run({ values, positionals }) {
    console.log(signedUrl(values.base, positionals, process.env));
  },
});

/** The signed URL for `name=value` arguments; `key=` names the key, else the environment's first. */
export function signedUrl(base: string, assignments: readonly string[], environment: NodeJS.ProcessEnv): string {
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
  return pixelUrl(base, parameters, key);
}

if (require.main === module) void runCommand(signCommand);
