import fc from "fast-check";
import { isSinkObject, loadJobId } from "../../core/batchLoad";

describe("isSinkObject", () => {
  test.each([
    ["requests/2026/01/05/23:00:00_23:59:59_S0.json", true],
    ["requests/2026/01/05/23:00:00_23:59:59_A1.json", true],
    ["requests/2026/01/05/notes.txt", false],
    ["dead-letters/requests/2026/01/05/23:00:00_23:59:59_S0.json", false],
    ["requestsX/2026/01/05/23:00:00_23:59:59_S0.json", false],
    ["pixel-loader/ledger.json", false],
  ])("%s → %s", (name, expected) => {
    expect(isSinkObject(name)).toBe(expected);
  });
});

describe("loadJobId", () => {
  const object = "requests/2026/01/05/23:00:00_23:59:59_S0.json";

  test("is a valid BigQuery job id, the same on every call", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.option(fc.string(), { nil: undefined }), (bucket, name, table, token) => {
        const id = loadJobId(bucket, name, table, token);
        expect(id).toMatch(/^[A-Za-z0-9_-]{1,1024}$/);
        expect(loadJobId(bucket, name, table, token)).toBe(id);
      }),
    );
  });

  test.each([
    ["another bucket", ["archive-2", object, "pixel_acme_20260105"]],
    ["another object", ["archive", object.replace("S0", "S1"), "pixel_acme_20260105"]],
    ["another table", ["archive", object, "pixel_acme_eu_20260105"]],
  ])("differs for %s", (_, [bucket, name, table]) => {
    expect(loadJobId(bucket, name, table)).not.toBe(loadJobId("archive", object, "pixel_acme_20260105"));
  });

  test("the parts cannot run into each other", () => {
    expect(loadJobId("a", "b\nc", "d")).not.toBe(loadJobId("a\nb", "c", "d"));
  });

  test("a rebuild names a new job, one per token", () => {
    const plain = loadJobId("archive", object, "events_partitioned");
    const rebuild = loadJobId("archive", object, "events_partitioned", "20261205T1300");
    expect(rebuild).not.toBe(plain);
    expect(rebuild).toMatch(/^pixel_rebuild_/);
    expect(loadJobId("archive", object, "events_partitioned", "20261205T1400")).not.toBe(rebuild);
  });
});
