import fc from "fast-check";
import {
  ASSUMED_SINK_FILES_PER_HOUR,
  batchLoadQuotaWarnings,
  LOAD_JOBS_PER_PROJECT_PER_DAY,
  LOAD_JOBS_PER_TABLE_PER_DAY,
  LOAD_QUOTA_HEADROOM,
  loadJobsPerDay,
  MAX_BATCH_TENANTS_PER_DAY,
  maxBatchTenantsPerDay,
} from "../../core/batchLimits";
import { INGEST_MODES } from "../../core/batchLoad";
import { LAYOUTS } from "../../core/layout";

const tenants = (count: number): string[] => Array.from({ length: count }, (_, index) => `tenant${index}`);

describe("loadJobsPerDay", () => {
  test.each([
    // layout, tenants, files an hour, loads per table, loads per project
    ["per-tenant-day", 1, 4, 96, 96],
    ["per-tenant-day", 520, 4, 96, 49_920],
    ["per-tenant-day", 100, 1, 24, 2_400],
    ["partitioned", 1, 4, 96, 96],
    ["partitioned", 100_000, 4, 96, 96],
    ["partitioned", 10, 31, 744, 744],
  ] as const)("%s, %d tenants, %d files an hour: %d a table, %d a project", (layout, tenantCount, filesPerHour, perTable, perProject) => {
    expect(loadJobsPerDay(layout, tenantCount, filesPerHour)).toEqual({ perTable, perProject });
  });
});

describe("maxBatchTenantsPerDay", () => {
  test("is 520 with the assumed 4 files an hour: 24 × 4 = 96 loads per tenant, half of 100,000 kept free", () => {
    expect(ASSUMED_SINK_FILES_PER_HOUR).toBe(4);
    expect(LOAD_QUOTA_HEADROOM).toBe(0.5);
    expect(MAX_BATCH_TENANTS_PER_DAY).toBe(520);
    expect(maxBatchTenantsPerDay()).toBe(520);
  });

  test.each([
    [1, 2_083],
    [2, 1_041],
    [8, 260],
    [31, 67],
    // 32 files an hour is 768 loads a day on each table: more than half of its 1,500.
    [32, 0],
  ])("%d files an hour: %d tenants", (filesPerHour, expected) => {
    expect(maxBatchTenantsPerDay(filesPerHour)).toBe(expected);
  });

  test("is the largest count whose loads stay within the headroom of both quotas", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), (filesPerHour) => {
        const max = maxBatchTenantsPerDay(filesPerHour);
        const within = (count: number): boolean => {
          const { perTable, perProject } = loadJobsPerDay("per-tenant-day", count, filesPerHour);
          return perTable <= LOAD_JOBS_PER_TABLE_PER_DAY * (1 - LOAD_QUOTA_HEADROOM) && perProject <= LOAD_JOBS_PER_PROJECT_PER_DAY * (1 - LOAD_QUOTA_HEADROOM);
        };
        if (max > 0) expect(within(max)).toBe(true);
        expect(within(max + 1)).toBe(false);
      }),
    );
  });
});

describe("batchLoadQuotaWarnings", () => {
  test.each([
    ["no allowlist", undefined],
    ["an allowlist one longer than the limit", tenants(MAX_BATCH_TENANTS_PER_DAY + 1)],
  ])("warns a batch per-tenant-day stack with %s, pointing to the partitioned layout", (_, allowlist) => {
    const warnings = batchLoadQuotaWarnings("batch", "per-tenant-day", allowlist);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`at most ${MAX_BATCH_TENANTS_PER_DAY} tenants`);
    expect(warnings[0]).toContain("100,000");
    expect(warnings[0]).toContain("layout partitioned (one load job per file");
    expect(warnings[0]).toContain("docs/operations.md#batch-loading-limits");
    expect(warnings[0]).toContain(allowlist ? `tenantAllowlist names ${allowlist.length} tenants` : "there is no tenantAllowlist");
  });

  test.each([
    ["batch, per-tenant-day, an allowlist of exactly the limit", "batch", "per-tenant-day", tenants(MAX_BATCH_TENANTS_PER_DAY)],
    ["batch, per-tenant-day, a short allowlist", "batch", "per-tenant-day", ["acme"]],
    ["batch, per-tenant-day, the limit's tenants with one named twice", "batch", "per-tenant-day", [...tenants(MAX_BATCH_TENANTS_PER_DAY), "tenant0"]],
    ["batch, partitioned, no allowlist", "batch", "partitioned", undefined],
    ["streaming, per-tenant-day, no allowlist", "streaming", "per-tenant-day", undefined],
  ] as const)("says nothing for %s", (_, ingest, layout, allowlist) => {
    expect(batchLoadQuotaWarnings(ingest, layout, allowlist)).toEqual([]);
  });

  test("warns exactly when batch meets per-tenant-day without an allowlist within the limit", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...INGEST_MODES),
        fc.constantFrom(...LAYOUTS),
        fc.option(fc.integer({ min: 0, max: 2 * MAX_BATCH_TENANTS_PER_DAY }), { nil: undefined }),
        (ingest, layout, allowlistLength) => {
          const allowlist = allowlistLength === undefined ? undefined : tenants(allowlistLength);
          const expected = ingest === "batch" && layout === "per-tenant-day" && (allowlistLength === undefined || allowlistLength > MAX_BATCH_TENANTS_PER_DAY);
          expect(batchLoadQuotaWarnings(ingest, layout, allowlist)).toHaveLength(expected ? 1 : 0);
        },
      ),
    );
  });
});
