import { stat, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { withLocalVisitorKey, VISITOR_KEY_FILE } from "../../local/visitorKey";
import { freshDirectoryEachTest, httpRequest, makeTempDir, query, removeDir, waitFor } from "../../testkit/localPipeline";
import { settingsFor } from "../../testkit/settings";

// The local pipeline's visitor key: a 0600 file in its data directory, made once and kept.
const local = freshDirectoryEachTest();

test("is created on first use, 32 random bytes as base64, readable by its owner only, and kept", async () => {
  const first = await withLocalVisitorKey(settingsFor(), local.dir);
  expect(first.visitorKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  expect((await stat(path.join(local.dir, VISITOR_KEY_FILE))).mode & 0o777).toBe(0o600);
  expect((await withLocalVisitorKey(settingsFor(), local.dir)).visitorKey).toBe(first.visitorKey);
  const other = await makeTempDir();
  try {
    expect((await withLocalVisitorKey(settingsFor(), other)).visitorKey).not.toBe(first.visitorKey);
  } finally {
    await removeDir(other);
  }
});

test("processes starting at once agree on one key", async () => {
  const keys = await Promise.all(Array.from({ length: 8 }, () => withLocalVisitorKey(settingsFor(), local.dir)));
  expect(new Set(keys.map((settings) => settings.visitorKey)).size).toBe(1);
});

test("a file that holds no usable key is refused, with what to do", async () => {
  await writeFile(path.join(local.dir, VISITOR_KEY_FILE), "short\n", { mode: 0o600 });
  await expect(withLocalVisitorKey(settingsFor(), local.dir)).rejects.toThrow(/holds no usable visitor key; delete it/);
});

test("the pipeline gives a visitor the same id across a restart on one day, from the data directory's key", async () => {
  const request = (pixelUrl: string) =>
    httpRequest(`${pixelUrl}?user_id=acme&type=view`, { headers: { "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", referer: "https://shop.example.com/a?utm_source=news" } });
  const visitorIds = async (count: number) =>
    (await waitFor(() => query(local.dir, "SELECT visitor_id, browser, page_path, utm_source FROM events"), (rows) => rows.length === count)).map((row) => row.visitor_id);
  // One pixel, a restart, the same pixel again.
  for (let run = 0; run < 2; run++) {
    const pipeline = await local.startPipeline();
    expect((await request(pipeline.pixelUrl)).status).toBe(200);
    await local.stopPipeline();
  }
  const ids = await visitorIds(2);
  expect(ids[0]).toMatch(/^[A-Za-z0-9_-]{16}$/);
  expect(ids[1]).toBe(ids[0]);
  expect(await query(local.dir, "SELECT DISTINCT browser, page_path, utm_source FROM events")).toEqual([{ browser: "Firefox", page_path: "/a", utm_source: "news" }]);
});
