import { text } from "node:stream/consumers";
import { archiveObject, listBucketObjects } from "../../functions/archiveBucket";
import { googleApi } from "../../functions/googleApi";
import { GcsStandIn } from "../../testkit/gcsStandIn";

// Pages of two objects, so that listing follows nextPageToken.
const gcs = new GcsStandIn(2);
const BUCKET = "pixel-archive";

beforeAll(() => gcs.start());
afterAll(() => gcs.stop());

test("lists every object under the prefix across pages, with its size and creation time", async () => {
  const created = new Date("2026-01-06T02:30:00.000Z");
  for (const hour of ["00", "01", "02"]) gcs.put(BUCKET, `requests/2026/01/06/${hour}:00:00_${hour}:59:59_S0.json`, `{"hour":"${hour}"}\n`, created);
  gcs.put(BUCKET, "other/file.json", "{}");
  const objects = await listBucketObjects(googleApi(gcs.endpoint), BUCKET, "requests/");
  expect(objects.map((object) => object.name)).toEqual(["00", "01", "02"].map((hour) => `requests/2026/01/06/${hour}:00:00_${hour}:59:59_S0.json`));
  expect(objects[0]).toMatchObject({ size: 14, createdAt: created });
});

test("an object reads its content on every open, and a failed read is an error with its status", async () => {
  gcs.put(BUCKET, "requests/a.json", "line 1\nline 2\n");
  const object = archiveObject(googleApi(gcs.endpoint), BUCKET, { name: "requests/a.json", size: 14, generation: "17" });
  expect(object).toMatchObject({ bucket: BUCKET, name: "requests/a.json", generation: "17", size: 14 });
  expect(await text(await object.open())).toBe("line 1\nline 2\n");
  expect(await text(await object.open())).toBe("line 1\nline 2\n");
  gcs.failingReads = 1;
  await expect(object.open()).rejects.toMatchObject({ status: 503 });
  await expect(archiveObject(googleApi(gcs.endpoint), BUCKET, { name: "requests/gone.json", size: 1 }).open()).rejects.toMatchObject({ status: 404 });
});
