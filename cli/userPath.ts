import * as path from "node:path";

/**
 * A path the user typed, resolved against the directory they ran npm from: `npm run` and `npm start`
 * run the script in the project's root and pass the user's directory as INIT_CWD. Run without npm
 * (`npx tsx cli/…`), against the current directory.
 */
export function userPath(file: string): string {
  return path.resolve(process.env.INIT_CWD || process.cwd(), file);
}
