import { PARTITIONED_TABLE, ROLLUPS } from "../../core/layout";
import { httpRequest, makeTempDir, query, removeDir, startTestPipeline, waitFor } from "../../testkit/localPipeline";
import type { TestPipeline } from "../../testkit/localPipeline";
import { KEYWORD_ATTRIBUTES, settingsFor } from "../../testkit/settings";

// `npm start` with layout: partitioned — one local table for every event, under the same views.
let dir: string;
let pipeline: TestPipeline;

beforeAll(async () => {
  dir = await makeTempDir();
  pipeline = await startTestPipeline(dir, settingsFor({ attributes: KEYWORD_ATTRIBUTES, layout: "partitioned" }));
});

afterAll(async () => {
  await pipeline?.close();
  await removeDir(dir);
});

test("pixels become rows of the partitioned table, readable through events, events_dedup and daily_counts", async () => {
  const referer = "https://shop.example.com/cart?session=42";
  for (const [tenant, type] of [["acme", "view"], ["acme", "click"], ["Acme Corp", "view"]]) {
    const response = await httpRequest(`${pipeline.pixelUrl}?user_id=${encodeURIComponent(tenant)}&type=${type}`, { headers: { referer } });
    expect(response.status).toBe(200);
  }
  await waitFor(() => query(dir, `SELECT count(*) AS n FROM events`), ([row]) => row.n === 3);

  const tables = await query(dir, `SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY table_name`);
  expect(tables.map((table) => table.table_name)).toEqual([PARTITIONED_TABLE, "load_jobs", "local_layout", "pixel", "refusals", ...Object.values(ROLLUPS).sort(), "spool_checkpoint"]);
  const today = new Date().toISOString().slice(0, 10);
  expect(await query(dir, `SELECT tenant, CAST(event_date AS VARCHAR) AS day, count(*) AS n FROM ${PARTITIONED_TABLE} GROUP BY ALL ORDER BY tenant`)).toEqual([
    { tenant: "Acme Corp", day: today, n: 1 },
    { tenant: "acme", day: today, n: 2 },
  ]);
  expect(await query(dir, `SELECT count(*) AS n FROM events_dedup`)).toEqual([{ n: 3 }]);
  expect(await query(dir, `SELECT tenant, event_type, page, events FROM daily_counts ORDER BY tenant, event_type`)).toEqual([
    { tenant: "Acme Corp", event_type: "view", page: "https://shop.example.com/cart", events: 1 },
    { tenant: "acme", event_type: "click", page: "https://shop.example.com/cart", events: 1 },
    { tenant: "acme", event_type: "view", page: "https://shop.example.com/cart", events: 1 },
  ]);
});
