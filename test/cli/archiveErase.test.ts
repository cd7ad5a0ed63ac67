import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { eraseTenantFromArchive, hourOf, MAX_OBJECT_ATTEMPTS, SINGLE_READ_BYTES } from "../../cli/archiveErase";
import type { ArchiveErasure } from "../../cli/archiveErase";
import { SINK_OBJECT_PREFIX } from "../../core/batchLoad";
import { googleApi } from "../../functions/googleApi";
import { GcsStandIn } from "../../testkit/gcsStandIn";
import { DEV_SETTINGS, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";

const BUCKET = "pixel-archive-x1";

/** A sink line of this tenant (undefined: no tenant), with a unique insertId. */
function entry(tenant: string | undefined, id: string): string {
  const query = tenant === undefined ? "type=click" : `user_id=${encodeURIComponent(tenant)}&type=click`;
  return `${JSON.stringify(loadBalancerEntry({ insertId: id, timestamp: "2026-01-05T23:12:28.408747509Z", httpRequest: { requestUrl: pixelUrl(query) } }))}\n`;
}

/**
 * The archive: hourly objects mixing acme with tenants whose names or encodings start with acme's
 * (acme_eu, acme-corp = acmeX2Dcorp), an hour of acme alone, an hour without acme, a line that is
 * not JSON, a file that is not the sink's and an object outside the prefix.
 */
const HOURS: Record<string, (string | undefined)[]> = {
  "requests/2026/01/05/21:00:00_21:59:59_S0.json": ["acme", "acme_eu", "acme-corp", "acme", undefined],
  "requests/2026/01/05/22:00:00_22:59:59_S0.json": ["globex", "acme_eu"],
  "requests/2026/01/05/23:00:00_23:59:59_S0.json": ["acme", "acme"],
  "requests/2026/01/05/23:00:00_23:59:59_A1.json": ["acme-corp", "acme"],
  "requests/2026/01/06/00:00:00_00:59:59_S0.json": ["acme", "globex"],
  "requests/2026/01/06/01:00:00_01:59:59_S0.json": ["acme", "acmeX2Dcorp", "acme_eu"],
};
const NOT_JSON = "a line that is not JSON names user_id=acme\n";

function fill(gcs: GcsStandIn): void {
  for (const [name, tenants] of Object.entries(HOURS)) {
    const lines = tenants.map((tenant, index) => entry(tenant, `${name}#${index}`));
    if (name.includes("21:00:00")) lines.splice(2, 0, NOT_JSON);
    gcs.put(BUCKET, name, lines.join(""));
  }
  gcs.put(BUCKET, "requests/README.txt", entry("acme", "readme"));
  gcs.put(BUCKET, "elsewhere/2026/01/05/21:00:00_21:59:59_S0.json", entry("acme", "elsewhere"));
}

/** Every object: its content and the metadata an erasure may change. */
function contents(gcs: GcsStandIn): Record<string, { content: string; customTime?: string }> {
  const snapshot: Record<string, { content: string; customTime?: string }> = {};
  for (const [name, content] of gcs.buckets.get(BUCKET) ?? []) snapshot[name] = { content: content.toString(), customTime: gcs.metadataOf(BUCKET, name)?.customTime };
  return snapshot;
}

function generations(gcs: GcsStandIn): Record<string, string | undefined> {
  return Object.fromEntries([...(gcs.buckets.get(BUCKET)?.keys() ?? [])].map((name) => [name, gcs.metadataOf(BUCKET, name)?.generation]));
}

/** Which tenants' lines an object holds, in order. */
function tenantsIn(content: string): (string | null)[] {
  return content
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => (line === NOT_JSON.trim() ? "not JSON" : new URL((JSON.parse(line) as { httpRequest: { requestUrl: string } }).httpRequest.requestUrl).searchParams.get("user_id")));
}

/** The archive as it was before any erasure (a stand-in that is never started). */
function originalArchive(): GcsStandIn {
  const copy = new GcsStandIn();
  fill(copy);
  return copy;
}

let gcs: GcsStandIn;
let dir: string;
beforeEach(async () => {
  gcs = new GcsStandIn(2);
  await gcs.start();
  fill(gcs);
  dir = await mkdtemp(path.join(tmpdir(), "pixel-archive-erase-"));
});
afterEach(async () => {
  await gcs.stop();
  await rm(dir, { recursive: true, force: true });
});

function erase(overrides: Partial<ArchiveErasure> = {}) {
  return eraseTenantFromArchive({
    api: googleApi(gcs.endpoint),
    bucket: BUCKET,
    prefix: SINK_OBJECT_PREFIX,
    tenant: "acme",
    settings: DEV_SETTINGS,
    dryRun: false,
    statePath: path.join(dir, "state", "erase.jsonl"),
    ...overrides,
  });
}

const ACME_REPORT = { scanned: 6, entries: 16, rewritten: 5, deleted: 1, removed: 7, removedRefused: 0, resumed: 0, skipped: 1 };

test.each([
  ["read once, the lines kept held in memory", SINGLE_READ_BYTES, 1],
  ["read again to be written as a stream", 0, 2],
])("rewrites each object that held acme's entries without them, and nothing else (%s)", async (_mode, singleReadBytes, readsPerRewrite) => {
  const before = contents(gcs);
  const generationsBefore = generations(gcs);
  const reads: Record<string, number> = {};
  gcs.afterMediaRead = (_bucket, name) => void (reads[name] = (reads[name] ?? 0) + 1);
  expect(await erase({ singleReadBytes })).toEqual(ACME_REPORT);
  expect(reads).toEqual({
    "requests/2026/01/05/21:00:00_21:59:59_S0.json": readsPerRewrite,
    "requests/2026/01/05/22:00:00_22:59:59_S0.json": 1,
    "requests/2026/01/05/23:00:00_23:59:59_S0.json": 1,
    "requests/2026/01/05/23:00:00_23:59:59_A1.json": readsPerRewrite,
    "requests/2026/01/06/00:00:00_00:59:59_S0.json": readsPerRewrite,
    "requests/2026/01/06/01:00:00_01:59:59_S0.json": readsPerRewrite,
  });
  const after = contents(gcs);

  expect(Object.fromEntries(Object.entries(after).map(([name, object]) => [name, tenantsIn(object.content)]))).toEqual({
    "requests/2026/01/05/21:00:00_21:59:59_S0.json": ["acme_eu", "not JSON", "acme-corp", null],
    "requests/2026/01/05/22:00:00_22:59:59_S0.json": ["globex", "acme_eu"],
    "requests/2026/01/05/23:00:00_23:59:59_A1.json": ["acme-corp"],
    "requests/2026/01/06/00:00:00_00:59:59_S0.json": ["globex"],
    "requests/2026/01/06/01:00:00_01:59:59_S0.json": ["acmeX2Dcorp", "acme_eu"],
    "requests/README.txt": ["acme"],
    "elsewhere/2026/01/05/21:00:00_21:59:59_S0.json": ["acme"],
  });
  // Every other line is kept byte for byte: each rewritten object is the original minus acme's lines.
  for (const [name, object] of Object.entries(after)) {
    const kept = before[name].content.split(/(?<=\n)/).filter((line) => !line.includes("user_id=acme&"));
    expect(object.content).toBe(name.startsWith(SINK_OBJECT_PREFIX) && name.endsWith(".json") ? kept.join("") : before[name].content);
  }
  // customTime is the object's hour on what was rewritten; the rest is untouched, generation and all.
  expect(after["requests/2026/01/05/21:00:00_21:59:59_S0.json"].customTime).toBe("2026-01-05T21:00:00Z");
  expect(after["requests/2026/01/05/23:00:00_23:59:59_A1.json"].customTime).toBe("2026-01-05T23:00:00Z");
  expect(after["requests/2026/01/06/01:00:00_01:59:59_S0.json"].customTime).toBe("2026-01-06T01:00:00Z");
  const generationsAfter = generations(gcs);
  expect(generationsAfter["requests/2026/01/05/22:00:00_22:59:59_S0.json"]).toBe(generationsBefore["requests/2026/01/05/22:00:00_22:59:59_S0.json"]);
  expect(after["requests/2026/01/05/22:00:00_22:59:59_S0.json"].customTime).toBeUndefined();
  expect(gcs.metadataOf(BUCKET, "requests/2026/01/05/21:00:00_21:59:59_S0.json")?.contentType).toBe("application/json");

  // Idempotent: a second run scans everything again and finds nothing; the state file is gone.
  await expect(stat(path.join(dir, "state", "erase.jsonl"))).rejects.toThrow(/ENOENT/);
  expect(await erase({ singleReadBytes })).toEqual({ ...ACME_REPORT, entries: 9, rewritten: 0, deleted: 0, removed: 0, scanned: 5 });
  expect(generations(gcs)).toEqual(generationsAfter);
});

test.each([
  ["acme_eu", { "requests/2026/01/05/21:00:00_21:59:59_S0.json": 1, "requests/2026/01/05/22:00:00_22:59:59_S0.json": 1, "requests/2026/01/06/01:00:00_01:59:59_S0.json": 1 }],
  ["acme-corp", { "requests/2026/01/05/21:00:00_21:59:59_S0.json": 1, "requests/2026/01/05/23:00:00_23:59:59_A1.json": 1 }],
  ["acmeX2Dcorp", { "requests/2026/01/06/01:00:00_01:59:59_S0.json": 1 }],
  ["acm", {}],
])("erasing %s takes exactly its own lines, nothing of acme's or of another prefix", async (tenant, removedPerObject) => {
  const before = contents(gcs);
  const report = await erase({ tenant });
  expect(report.removed).toBe(Object.values(removedPerObject).reduce((a, b) => a + b, 0));
  expect(report.rewritten).toBe(Object.keys(removedPerObject).length);
  for (const [name, object] of Object.entries(contents(gcs))) {
    const lost = tenantsIn(before[name].content).length - tenantsIn(object.content).length;
    expect([name, lost]).toEqual([name, removedPerObject[name as keyof typeof removedPerObject] ?? 0]);
    expect(tenantsIn(object.content)).toEqual(tenantsIn(before[name].content).filter((owner) => owner !== tenant));
  }
});

test("--before keeps to the hours before that day", async () => {
  const report = await erase({ before: "2026-01-06" });
  expect(report).toEqual({ scanned: 4, entries: 11, rewritten: 3, deleted: 1, removed: 5, removedRefused: 0, resumed: 0, skipped: 1 });
  expect(tenantsIn(contents(gcs)["requests/2026/01/06/00:00:00_00:59:59_S0.json"].content)).toEqual(["acme", "globex"]);
});

test("reports progress by bytes of the objects in range, with the entries read", async () => {
  const calls: unknown[][] = [];
  const progress = { start: (total: number) => calls.push(["start", total]), update: (read: number, entries: number) => calls.push(["update", read, entries]), stop: () => calls.push(["stop"]) };
  await erase({ progress, before: "2026-01-06" });
  const sizes = ["21:00:00_21:59:59_S0", "22:00:00_22:59:59_S0", "23:00:00_23:59:59_A1", "23:00:00_23:59:59_S0"].map((hour) => Buffer.byteLength(contents(originalArchive())[`requests/2026/01/05/${hour}.json`].content));
  expect(calls).toEqual([
    ["start", sizes.reduce((a, b) => a + b)],
    ["update", sizes[0], 5],
    ["update", sizes[0] + sizes[1], 7],
    ["update", sizes[0] + sizes[1] + sizes[2], 9],
    ["update", sizes[0] + sizes[1] + sizes[2] + sizes[3], 11],
    ["stop"],
  ]);
});

test.each([
  [{ tenant: "" }, "the tenant to erase is empty: name one"],
  [{ before: "2026-1-6" }, 'before is "2026-1-6": give a day as YYYY-MM-DD'],
])("refuses %p before it reads anything", async (overrides, message) => {
  const reads: string[] = [];
  gcs.afterMediaRead = (_bucket, name) => void reads.push(name);
  await expect(erase(overrides)).rejects.toThrow(message);
  expect(reads).toEqual([]);
});

test("a dry run counts what would go and writes nothing, not even its state", async () => {
  const before = contents(gcs);
  const generationsBefore = generations(gcs);
  const writes = gcs.writes;
  expect(await erase({ dryRun: true })).toEqual(ACME_REPORT);
  expect(contents(gcs)).toEqual(before);
  expect(generations(gcs)).toEqual(generationsBefore);
  expect(gcs.writes).toBe(writes);
  await expect(stat(path.join(dir, "state"))).rejects.toThrow(/ENOENT/);
});

test("a run stopped after k writes resumes and ends as an uninterrupted run does", async () => {
  const uninterrupted = new GcsStandIn(2);
  await uninterrupted.start();
  try {
    fill(uninterrupted);
    await eraseTenantFromArchive({ api: googleApi(uninterrupted.endpoint), bucket: BUCKET, prefix: SINK_OBJECT_PREFIX, tenant: "acme", settings: DEV_SETTINGS, dryRun: false, statePath: path.join(dir, "other.jsonl") });

    for (const stopAfter of [0, 2]) {
      gcs.failWritesAfter = gcs.writes + stopAfter;
      await expect(erase()).rejects.toThrow(/answered 503/);
    }
    const state = await readFile(path.join(dir, "state", "erase.jsonl"), "utf8");
    expect(state.trim().split("\n")).toHaveLength(1 + 3);
    // A process killed while appending leaves a torn line, which the next run ends before it appends.
    await appendFile(path.join(dir, "state", "erase.jsonl"), '{"object":"requests/2026/01/05/23:00:00_23:5');
    gcs.failWritesAfter = gcs.writes + 1;
    await expect(erase()).rejects.toThrow(/answered 503/);
    gcs.failWritesAfter = Infinity;
    const resumed = await erase();
    expect(resumed).toEqual({ ...ACME_REPORT, resumed: 4 });
    expect(contents(gcs)).toEqual(contents(uninterrupted));
  } finally {
    await uninterrupted.stop();
  }
});

test("a stopped run's state is not resumed by an erasure with other parameters", async () => {
  gcs.failWritesAfter = 1;
  await expect(erase()).rejects.toThrow(/answered 503/);
  await expect(erase({ tenant: "acme_eu" })).rejects.toThrow(/erase\.jsonl holds a stopped erasure with other parameters .*"tenant":"acme".*delete the file/);
  await expect(erase({ before: "2026-01-06" })).rejects.toThrow(/other parameters/);
});

test("a state file torn before its first line was whole is a fresh start", async () => {
  await mkdir(path.join(dir, "state"));
  await writeFile(path.join(dir, "state", "erase.jsonl"), '{"erasure":{"bucket":"pixel-ar');
  expect(await erase()).toEqual(ACME_REPORT);
});

test.each([SINGLE_READ_BYTES, 0])("an object written while it is being erased is read again, never overwritten (objects read once up to %s bytes)", async (singleReadBytes) => {
  const name = "requests/2026/01/05/21:00:00_21:59:59_S0.json";
  let concurrentWrites = 0;
  gcs.afterMediaRead = (bucket, object) => {
    if (object !== name || concurrentWrites++ > 0) return;
    const current = gcs.buckets.get(bucket)?.get(object) as Buffer;
    gcs.put(bucket, object, Buffer.concat([current, Buffer.from(entry("globex", "late") + entry("acme", "late"))]));
  };
  const report = await erase({ singleReadBytes });
  expect(report).toEqual({ ...ACME_REPORT, entries: ACME_REPORT.entries + 2, removed: ACME_REPORT.removed + 1 });
  expect(tenantsIn(contents(gcs)[name].content)).toEqual(["acme_eu", "not JSON", "acme-corp", null, "globex"]);
});

test("an object that keeps changing is left to its writer, and the run says to run again", async () => {
  const name = "requests/2026/01/05/23:00:00_23:59:59_A1.json";
  let writes = 0;
  gcs.afterMediaRead = (bucket, object) => {
    if (object === name) gcs.put(bucket, object, entry("acme", `writer ${++writes}`));
  };
  await expect(erase()).rejects.toThrow(
    `the erasure of acme from the archive stopped at gs://${BUCKET}/${name} (2 of 6 objects done): it changed ${MAX_OBJECT_ATTEMPTS} times while it was being rewritten, and nothing of it was overwritten. Running the same erasure again resumes where it stopped.`,
  );
  expect(writes).toBe(MAX_OBJECT_ATTEMPTS);
  expect(contents(gcs)[name].content).toBe(entry("acme", `writer ${MAX_OBJECT_ATTEMPTS}`));
});

test.each([
  ["requests/2026/01/05/21:00:00_21:59:59_S0.json", "2026-01-05T21:00:00Z"],
  ["requests/2026/12/31/23:00:00_23:59:59_A12.json", "2026-12-31T23:00:00Z"],
  ["requests/2026/01/05/21:00:00_21:59:59.json", undefined],
  ["requests/README.txt", undefined],
])("the hour of %s is %s", (name, hour) => {
  expect(hourOf(name)).toBe(hour);
});
