// Cold start: a fresh node process starts the functions framework on the deployed bundle and
// answers its first message, against a bare CloudEvent function that does nothing.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DATASET_VARIABLE, DELIVERY_ATTEMPTS_VARIABLE, FUNCTION_ENTRY_POINT, SETTINGS_VARIABLE, VISITOR_KEY_VARIABLE } from "../core/functionContract";
import { serializeCoreSettings, CoreSettings } from "../core/config/coreSettings";
import { bundleFunction, writeBundle } from "../infra/ingest/functionBundle";
import { median } from "./core";
import { corpusEntry } from "./corpus";
import { freePort } from "../testkit/freePort";
import { waitForLine } from "../testkit/waitForLine";

const ROOT = path.join(__dirname, "..");
const FRAMEWORK_MAIN = path.join(ROOT, "node_modules/@google-cloud/functions-framework/build/src/main.js");

export interface ColdStartResult {
  readonly runs: number;
  readonly bareMs: number;
  readonly bundleMs: number;
  /** index.js alone. */
  readonly scriptBytes: number;
  /** Every file deployed: the script, its package.json, the notices and the country table. */
  readonly bundleBytes: number;
}


/** Milliseconds from spawning the process to the end of the first message's response. */
async function timeFirstMessage(source: string, target: string, env: NodeJS.ProcessEnv, body: string): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [FRAMEWORK_MAIN, `--target=${target}`, `--source=${source}`, `--port=${port}`], {
    env: { PATH: process.env.PATH, NODE_PATH: path.join(ROOT, "node_modules"), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    await waitForLine(child, /URL: /, 60_000);
    const response = await fetch(`http://127.0.0.1:${port}/projects/p/topics/t`, { method: "POST", headers: { "content-type": "application/json" }, body });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`first message answered ${response.status}`);
    return performance.now() - started;
  } finally {
    child.kill("SIGKILL");
  }
}

/**
 * The first message is a real log entry for a tenant outside the allowlist: the core runs in full
 * up to the table choice, and no BigQuery call is made, because this machine has no credentials
 * and the bare function makes none either.
 */
export async function measureColdStart(settings: CoreSettings, runs: number): Promise<ColdStartResult> {
  const directory = mkdtempSync(path.join(tmpdir(), "pixel-cold-start-"));
  try {
    const bundleDir = path.join(directory, "bundle");
    const bareDir = path.join(directory, "bare");
    const bundle = bundleFunction();
    writeBundle(bundle, bundleDir);
    writeBundle({ files: { "index.js": 'require("@google-cloud/functions-framework").cloudEvent("bare", () => {});', "package.json": '{"main":"index.js"}' }, dataFiles: {} }, bareDir);
    const entry = corpusEntry(1, () => 0.5);
    const body = JSON.stringify({ message: { data: Buffer.from(JSON.stringify(entry)).toString("base64"), messageId: "1" }, subscription: "s" });
    const env = {
      [SETTINGS_VARIABLE]: serializeCoreSettings({ ...settings, tenantAllowlist: ["someone-else"] }),
      [DATASET_VARIABLE]: "bench",
      [DELIVERY_ATTEMPTS_VARIABLE]: "5",
      [VISITOR_KEY_VARIABLE]: randomBytes(32).toString("base64"),
      GOOGLE_CLOUD_PROJECT: "bench",
    };
    const bare: number[] = [];
    const ours: number[] = [];
    // Alternating keeps the machine's drift from favouring either side.
    for (let run = 0; run < runs; run++) {
      bare.push(await timeFirstMessage(bareDir, "bare", {}, body));
      ours.push(await timeFirstMessage(bundleDir, FUNCTION_ENTRY_POINT, env, body));
    }
    const deployedBytes = [...Object.values(bundle.files).map((text) => Buffer.byteLength(text)), ...Object.values(bundle.dataFiles).map((file) => statSync(file).size)];
    return { runs, bareMs: median(bare), bundleMs: median(ours), scriptBytes: Buffer.byteLength(bundle.files["index.js"]), bundleBytes: deployedBytes.reduce((sum, bytes) => sum + bytes, 0) };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
