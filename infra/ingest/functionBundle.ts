import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { buildSync } from "esbuild";
import { zipSync } from "fflate";
import type { Zippable } from "fflate";
import { COUNTRY_DATA_PACKAGE, countryTableFile } from "../../assets/countryTable";
import { COUNTRY_TABLE_FILE } from "../../core/functionContract";

/**
 * The deployed function's files: one esbuild bundle, the package.json the Node.js buildpack reads,
 * the licence notices of what the bundle holds, and the IP-to-country table beside it.
 */
export interface FunctionBundle {
  /** Text files by name. */
  readonly files: Readonly<Record<string, string>>;
  /** Files deployed as they are, by name: where each is on this machine. */
  readonly dataFiles: Readonly<Record<string, string>>;
  /** Content hash of all files: the archive's object name, so an unchanged source never redeploys. */
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

const ROOT = path.join(__dirname, "..", "..");
export const FUNCTION_ENTRY = path.join(ROOT, "functions", "index.ts");
/** The batch tier's functions (the archive loader and its sweep): a bundle of their own, so neither carries the other's cold start. */
export const BATCH_FUNCTION_ENTRY = path.join(ROOT, "functions", "batchIndex.ts");
export const DEPLOYED_RUNTIME = "nodejs22";
export const NOTICES_FILE = "THIRD_PARTY_NOTICES.txt";
const FRAMEWORK = "@google-cloud/functions-framework";

/**
 * Bundles the function into one file, so a cold start loads one module instead of resolving
 * hundreds. The functions framework stays external: the runtime starts its own copy, and a
 * bundled second copy would hold a separate (empty) function registry. The country table is a
 * file of its own, read without parsing at cold start: embedded in the bundle it would be parsed
 * as JavaScript first.
 */
export function bundleFunction(entry: string = FUNCTION_ENTRY): FunctionBundle {
  const result = buildSync({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: true,
    legalComments: "none",
    external: [FRAMEWORK],
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const frameworkVersion = projectDependencyRange(FRAMEWORK);
  const bundledPackages = [...new Set(Object.keys(result.metafile.inputs).flatMap((input) => packageDirectory(input) ?? []))];
  const files = {
    "index.js": result.outputFiles[0].text,
    "package.json": JSON.stringify(
      { name: "pixel-pipeline-function", private: true, main: "index.js", engines: { node: ">=22" }, dependencies: { [FRAMEWORK]: frameworkVersion } },
      null,
      2,
    ),
    [NOTICES_FILE]: notices([...bundledPackages, path.join("node_modules", COUNTRY_DATA_PACKAGE)]),
  };
  const dataFiles = { [COUNTRY_TABLE_FILE]: countryTableFile() };
  const digest = createHash("sha256");
  for (const [name, content] of Object.entries(files)) digest.update(`${name}\0${content}\0`);
  for (const [name, file] of Object.entries(dataFiles)) digest.update(`${name}\0`).update(readFileSync(file)).update("\0");
  const hash = digest.digest("hex").slice(0, 16);
  const zip = zipArchive({ ...files, ...Object.fromEntries(Object.entries(dataFiles).map(([name, file]) => [name, readFileSync(file)])) });
  return { files, dataFiles, hash, archivePath: writeArchive(hash, zip), archiveMd5: createHash("md5").update(zip).digest("base64") };
}

/** The files in name order, each with the same fixed date. */
export function zipArchive(files: Readonly<Record<string, string | Uint8Array>>): Uint8Array {
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

/** Writes the bundle's files into `directory`, as the runtime will find them. */
export function writeBundle(bundle: Pick<FunctionBundle, "files" | "dataFiles">, directory: string): void {
  mkdirSync(directory, { recursive: true });
  for (const [name, content] of Object.entries(bundle.files)) writeFileSync(path.join(directory, name), content);
  for (const [name, file] of Object.entries(bundle.dataFiles)) copyFileSync(file, path.join(directory, name));
}

/** `node_modules/<package>` of a bundled input, the innermost one for a nested dependency. */
function packageDirectory(input: string): string | undefined {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return match?.[1];
}

const LICENCE_FILE = /licen[cs]e|copying|notice/i;

/**
 * The licence texts of every package the bundle holds and of the country data: minifying drops
 * the notices that MIT, Apache-2.0 and CC BY 4.0 ask copies to keep, so they travel beside it.
 */
function notices(packageDirectories: readonly string[]): string {
  return [...packageDirectories]
    .sort()
    .map((directory) => {
      const absolute = path.join(ROOT, directory);
      const manifest = JSON.parse(readFileSync(path.join(absolute, "package.json"), "utf8")) as { name: string; version: string; license?: string };
      const texts = readdirSync(absolute)
        .filter((file) => LICENCE_FILE.test(file))
        .sort()
        .map((file) => readFileSync(path.join(absolute, file), "utf8").trim());
      return [`${manifest.name} ${manifest.version} (${manifest.license ?? "no licence field"})`, ...(texts.length > 0 ? texts : ["(the package has no licence file)"])].join("\n\n");
    })
    .join(`\n\n${"-".repeat(72)}\n\n`);
}

/** The version range this repo tests against, so the cloud installs the same major. */
function projectDependencyRange(name: string): string {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  return manifest.dependencies[name];
}
