import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DATASET_VARIABLE, DELIVERY_ATTEMPTS_VARIABLE, FUNCTION_ENTRY_POINT, SETTINGS_VARIABLE } from "../../../core/functionContract";
import { serializeCoreSettings } from "../../../core/config/coreSettings";
import { unzipSync } from "fflate";
import { bundleFunction, zipArchive } from "../../../infra/ingest/functionBundle";
import { DEV_SETTINGS, loadBalancerEntry, pubSubMessage } from "../../../testkit/logEntries";
import { freePort } from "../../../testkit/freePort";

const ROOT = path.join(__dirname, "..", "..", "..");
const bundle = bundleFunction();
let directory: string;
let child: ChildProcess;
let output = "";


async function waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(output)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output so far:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the deployed bundle", () => {
  let url: string;

  beforeAll(async () => {
    directory = mkdtempSync(path.join(tmpdir(), "pixel-bundle-"));
    // What is uploaded is the zip: the framework runs on its contents.
    for (const [name, content] of Object.entries(unzipSync(readFileSync(bundle.archivePath)))) writeFileSync(path.join(directory, name), content);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // The runtime starts the framework on the uploaded source; NODE_PATH stands in for the buildpack's npm install.
    child = spawn(
      process.execPath,
      [path.join(ROOT, "node_modules/@google-cloud/functions-framework/build/src/main.js"), `--target=${FUNCTION_ENTRY_POINT}`, `--source=${directory}`, `--port=${port}`],
      {
        env: {
          PATH: process.env.PATH,
          NODE_PATH: path.join(ROOT, "node_modules"),
          [SETTINGS_VARIABLE]: serializeCoreSettings(DEV_SETTINGS),
          [DATASET_VARIABLE]: "pixel_dev",
          [DELIVERY_ATTEMPTS_VARIABLE]: "5",
          GOOGLE_CLOUD_PROJECT: "test-project",
        },
      },
    );
    child.stdout?.on("data", (chunk) => (output += chunk));
    child.stderr?.on("data", (chunk) => (output += chunk));
    await waitForOutput(/Signature type: \w+/);
  });

  afterAll(() => {
    child?.kill("SIGKILL");
    rmSync(directory, { recursive: true, force: true });
  });

  it("is one file that leaves the functions framework to the runtime", () => {
    expect(Object.keys(bundle.files).sort()).toEqual(["index.js", "package.json"]);
    expect(JSON.parse(bundle.files["package.json"])).toMatchObject({ main: "index.js", dependencies: { "@google-cloud/functions-framework": expect.any(String) } });
    expect(bundle.files["index.js"]).toContain('require("@google-cloud/functions-framework")');
    expect(bundle.files["index.js"]).not.toContain("getTestServer");
  });

  it("has a hash that changes only with its content", () => {
    expect(bundleFunction().hash).toBe(bundle.hash);
  });

  it("is uploaded as a zip whose bytes, and so its MD5, depend on the content only", () => {
    const zip = readFileSync(bundle.archivePath);
    expect(bundle.archiveMd5).toBe(createHash("md5").update(zip).digest("base64"));
    expect(Object.keys(unzipSync(zip)).sort()).toEqual(Object.keys(bundle.files).sort());
    expect(Buffer.from(zipArchive({ "b.txt": "b", "a.txt": "a" }))).toEqual(Buffer.from(zipArchive({ "a.txt": "a", "b.txt": "b" })));
    expect(Buffer.from(zipArchive({ "a.txt": "a" }))).not.toEqual(Buffer.from(zipArchive({ "a.txt": "b" })));
    // The same bytes on a deployer's machine in another time zone: zip entry times are local times.
    const script = `require("tsx/cjs"); const { zipArchive } = require(${JSON.stringify(path.join(ROOT, "infra/ingest/functionBundle.ts"))}); process.stdout.write(Buffer.from(zipArchive({ "a.txt": "a" })).toString("base64"));`;
    for (const zone of ["UTC", "Asia/Tokyo", "America/Los_Angeles"]) {
      const elsewhere = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, env: { ...process.env, TZ: zone }, encoding: "utf8", timeout: 60_000 });
      expect(elsewhere.stdout).toBe(Buffer.from(zipArchive({ "a.txt": "a" })).toString("base64"));
    }
  });

  it("registers the CloudEvent function and acks a refused push message with a log line", async () => {
    expect(output).toMatch(/Signature type: cloudevent/);
    const response = await fetch(`${url}/projects/demo-project/topics/pixel-requests`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: pubSubMessage(loadBalancerEntry({ httpRequest: { status: 404 } })), subscription: "projects/demo-project/subscriptions/pixel-push" }),
    });
    expect(response.status).toBe(204);
    await waitForOutput(/"reason":"status_not_counted"/);
  });
});
