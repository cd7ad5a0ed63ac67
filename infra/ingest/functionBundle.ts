import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { buildSync } from "esbuild";
import { zipSync } from "fflate";
import type { Zippable } from "fflate";

/** The deployed function's files: one esbuild bundle plus the package.json the Node.js buildpack reads. */
export interface FunctionBundle {
  readonly files: Readonly<Record<string, string>>;
  /** Content hash of the files: the archive's object name, so an unchanged source never redeploys. */
  readonly hash: string;
  /** The files as a zip whose bytes depend on nothing but their content, ready to upload. */
  readonly archivePath: string;
  /** The zip's MD5 in base64, as Cloud Storage reports an object's md5Hash. */
  readonly archiveMd5: string;
}

/**
 * Zip entries carry DOS times in local time; a fixed local date gives the same bytes on every
 * machine and every run, so an unchanged bundle is an unchanged object.
 */
const ZIP_ENTRY_TIME = new Date(1980, 0, 1);

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
  const digest = createHash("sha256");
  for (const [name, content] of Object.entries(files)) digest.update(`${name}\0${content}\0`);
  const hash = digest.digest("hex").slice(0, 16);
  const zip = zipArchive(files);
  return { files, hash, archivePath: writeArchive(hash, zip), archiveMd5: createHash("md5").update(zip).digest("base64") };
}

/** The files in name order, each with the same fixed date. */
export function zipArchive(files: Readonly<Record<string, string>>): Uint8Array {
  const entries: Zippable = {};
  for (const name of Object.keys(files).sort()) entries[name] = [Buffer.from(files[name]), { mtime: ZIP_ENTRY_TIME }];
  return zipSync(entries, { level: 9 });
}

/** Pulumi uploads an asset from a file. */
function writeArchive(hash: string, zip: Uint8Array): string {
  const directory = path.join(tmpdir(), "pixel-pipeline-function");
  mkdirSync(directory, { recursive: true });
  const file = path.join(directory, `${hash}.zip`);
  writeFileSync(file, zip);
  return file;
}

/** The version range this repo tests against, so the cloud installs the same major. */
function projectDependencyRange(name: string): string {
  const manifest = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { dependencies: Record<string, string> };
  return manifest.dependencies[name];
}
