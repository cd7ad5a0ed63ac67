import { createHash } from "node:crypto";
import * as path from "node:path";
import { readFileSync } from "node:fs";
import { buildSync } from "esbuild";

/** The deployed function's files: one esbuild bundle plus the package.json the Node.js buildpack reads. */
export interface FunctionBundle {
  readonly files: Readonly<Record<string, string>>;
  /** Content hash of the files: the archive's object name, so an unchanged source never redeploys. */
  readonly hash: string;
}

export const FUNCTION_ENTRY = path.join(__dirname, "..", "..", "functions", "index.ts");
export const DEPLOYED_RUNTIME = "nodejs22";
const FRAMEWORK = "@google-cloud/functions-framework";

/**
 * Bundles the function into one file, so a cold start loads one module instead of resolving
 * hundreds. The functions framework stays external: the runtime starts its own copy, and a
 * bundled second copy would hold a separate (empty) function registry.
 */
export function bundleFunction(): FunctionBundle {
  const result = buildSync({
    entryPoints: [FUNCTION_ENTRY],
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: true,
    legalComments: "none",
    external: [FRAMEWORK],
    write: false,
    logLevel: "silent",
  });
  const frameworkVersion = projectDependencyRange(FRAMEWORK);
  const files = {
    "index.js": result.outputFiles[0].text,
    "package.json": JSON.stringify(
      { name: "pixel-pipeline-function", private: true, main: "index.js", engines: { node: ">=22" }, dependencies: { [FRAMEWORK]: frameworkVersion } },
      null,
      2,
    ),
  };
  const hash = createHash("sha256");
  for (const [name, content] of Object.entries(files)) hash.update(`${name}\0${content}\0`);
  return { files, hash: hash.digest("hex").slice(0, 16) };
}

/** The version range this repo tests against, so the cloud installs the same major. */
function projectDependencyRange(name: string): string {
  const manifest = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { dependencies: Record<string, string> };
  return manifest.dependencies[name];
}
