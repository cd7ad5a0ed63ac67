// npm run --silent sign -- key=<signing key> user_id=acme type=click [--base https://track.example.com/pixel.png]
// Prints a signed pixel URL. Without key=, the key comes from PIXEL_SIGNING_KEYS (the first one).
import { parseArgs } from "node:util";
import { pixelUrl } from "../functions/core/signature";
import { SIGNING_KEYS_VARIABLE } from "../functions/core/settings";

const USAGE = "usage: npm run --silent sign -- [key=<signing key>] name=value ... [--base <pixel URL>]";
const LOCAL_PIXEL = "http://127.0.0.1:8080/pixel.png";

export function signCommand(argv: string[], environment: NodeJS.ProcessEnv): string {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { base: { type: "string", default: LOCAL_PIXEL } } });
  const parameters: Record<string, string> = {};
  let key = environment[SIGNING_KEYS_VARIABLE]?.split(/[\n,]/)[0]?.trim();
  for (const positional of positionals) {
    const separator = positional.indexOf("=");
    if (separator <= 0) throw new Error(`"${positional}" is not name=value.`);
    const [name, value] = [positional.slice(0, separator), positional.slice(separator + 1)];
    if (name === "key") key = value;
    else parameters[name] = value;
  }
  if (!key) throw new Error(`no signing key: pass key=<key> or set ${SIGNING_KEYS_VARIABLE}.`);
  return pixelUrl(values.base, parameters, key);
}

if (require.main === module) {
  try {
    console.log(signCommand(process.argv.slice(2), process.env));
  } catch (error) {
    console.error((error as Error).message);
    console.error(USAGE);
    process.exitCode = 2;
  }
}
