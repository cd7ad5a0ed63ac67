import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { COUNTRY_TABLE_FILE, DATASET_VARIABLE, DELIVERY_ATTEMPTS_VARIABLE, FUNCTION_ENTRY_POINT, SETTINGS_VARIABLE, VISITOR_KEY_VARIABLE } from "../../../core/functionContract";
import { serializeCoreSettings } from "../../../core/config/coreSettings";
import { unzipSync } from "fflate";
import { bundleFunction, NOTICES_FILE, zipArchive } from "../../../infra/ingest/functionBundle";
import { BigQueryStandIn } from "../../../testkit/bigQueryStandIn";
import { acceptedEvent, DEV_SETTINGS, loadBalancerEntry, pubSubMessage } from "../../../testkit/logEntries";
import { TEST_VISITOR_KEY } from "../../../testkit/settings";
import { freePort } from "../../../testkit/freePort";
import { captureOutput } from "../../../testkit/waitForLine";
import type { ChildOutput } from "../../../testkit/waitForLine";

const ROOT = path.join(__dirname, "..", "..", "..");
let bundle: ReturnType<typeof bundleFunction>;
let directory: string;
let child: ChildProcess;
let output: ChildOutput;

describe("the deployed bundle", () => {
  let url: string;
  const bigQuery = new BigQueryStandIn();

  beforeAll(async () => {
    bundle = bundleFunction();
    await bigQuery.start();
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
          [VISITOR_KEY_VARIABLE]: TEST_VISITOR_KEY,
          GOOGLE_CLOUD_PROJECT: "test-project",
          // The client's own switch for an emulator: the bundled client writes to the loopback stand-in.
          BIGQUERY_EMULATOR_HOST: `${bigQuery.endpoint}/bigquery/v2`,
        },
      },
    );
    output = captureOutput(child);
    await output.waitFor(/Signature type: \w+/, 20_000);
  });

  afterAll(async () => {
    child?.kill("SIGKILL");
    rmSync(directory, { recursive: true, force: true });
    await bigQuery.stop();
  });

  it("is one script that leaves the functions framework to the runtime, with its package.json, its licence notices and the country table", () => {
    expect(Object.keys(bundle.files).sort()).toEqual([NOTICES_FILE, "index.js", "package.json"]);
    expect(Object.keys(bundle.dataFiles)).toEqual([COUNTRY_TABLE_FILE]);
    expect(statSync(path.join(directory, COUNTRY_TABLE_FILE)).size).toBe(statSync(bundle.dataFiles[COUNTRY_TABLE_FILE]).size);
    expect(JSON.parse(bundle.files["package.json"])).toMatchObject({ main: "index.js", dependencies: { "@google-cloud/functions-framework": expect.any(String) } });
    expect(bundle.files["index.js"]).toContain('require("@google-cloud/functions-framework")');
    expect(bundle.files["index.js"]).not.toContain("getTestServer");
  });

  it("carries the licence of every package it bundles and DB-IP's attribution", () => {
    const notices = bundle.files[NOTICES_FILE];
    expect(notices).toContain("bowser 2.15.1 (MIT)");
    expect(notices).toContain("Copyright 2015, Dustin Diaz");
    expect(notices).toContain("isbot");
    expect(notices).toContain("@google-cloud/bigquery");
    expect(notices).toContain("Apache License");
    expect(notices).toContain("@ip-location-db/dbip-country 2.3.2026060120");
    expect(notices).toContain("<a href='https://db-ip.com'>IP Geolocation by DB-IP</a>");
  });

  it("has a hash that changes only with its content", () => {
    expect(bundleFunction().hash).toBe(bundle.hash);
  });

  it("is uploaded as a zip whose bytes, and so its MD5, depend on the content only", () => {
    const zip = readFileSync(bundle.archivePath);
    expect(bundle.archiveMd5).toBe(createHash("md5").update(zip).digest("base64"));
    expect(Object.keys(unzipSync(zip)).sort()).toEqual([...Object.keys(bundle.files), ...Object.keys(bundle.dataFiles)].sort());
    expect(Buffer.from(zipArchive({ "b.txt": "b", "a.txt": "a" }))).toEqual(Buffer.from(zipArchive({ "a.txt": "a", "b.txt": "b" })));
    expect(Buffer.from(zipArchive({ "a.txt": "a" }))).not.toEqual(Buffer.from(zipArchive({ "a.txt": "b" })));
    // The same bytes on a deployer's machine in another time zone: zip entry times are local times.
    const script = `require("tsx/cjs"); const { zipArchive } = require(${JSON.stringify(path.join(ROOT, "infra/ingest/functionBundle.ts"))}); process.stdout.write(Buffer.from(zipArchive({ "a.txt": "a" })).toString("base64"));`;
    for (const zone of ["UTC", "Asia/Tokyo", "America/Los_Angeles"]) {
      const elsewhere = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, env: { ...process.env, TZ: zone }, encoding: "utf8", timeout: 60_000 });
      expect(elsewhere.stdout).toBe(Buffer.from(zipArchive({ "a.txt": "a" })).toString("base64"));
    }
  });

  it("stores an event with its country from the deployed table and its visitor id from the key in its environment", async () => {
    const response = await fetch(`${url}/projects/demo-project/topics/pixel-requests`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: pubSubMessage(loadBalancerEntry()), subscription: "projects/demo-project/subscriptions/pixel-push" }),
    });
    expect(response.status).toBe(204);
    const [row] = [...bigQuery.stored.values()] as Record<string, unknown>[];
    expect(row).toEqual(acceptedEvent(loadBalancerEntry()).row);
    expect(row).toMatchObject({ country: "SE", browser: "Chrome", visitor_id: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/) });
  });

  it("registers the CloudEvent function and acks a refused push message with a log line", async () => {
    expect(output.text()).toMatch(/Signature type: cloudevent/);
    const response = await fetch(`${url}/projects/demo-project/topics/pixel-requests`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: pubSubMessage(loadBalancerEntry({ httpRequest: { status: 404 } })), subscription: "projects/demo-project/subscriptions/pixel-push" }),
    });
    expect(response.status).toBe(204);
    await output.waitFor(/"reason":"status_not_counted"/, 20_000);
  });
});
