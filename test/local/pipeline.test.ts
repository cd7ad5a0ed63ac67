import { readFile, stat } from "node:fs/promises";
import { ROLLUPS } from "../../core/layout";
import { dataPaths } from "../../local/paths";
import { PIXEL_FILE } from "../../assets/pixel";
import { readServerFile } from "../../local/serverFile";
import { countRows, freshDirectoryEachTest, httpRequest, query, runQueryCommand, waitFor } from "../../testkit/localPipeline";
import { settingsFor } from "../../testkit/settings";

jest.setTimeout(120_000);

const local = freshDirectoryEachTest();

const refusalCounts = async () => query(local.dir, `SELECT reason, count(*) AS n FROM refusals GROUP BY ALL ORDER BY reason`);

describe("the pixel", () => {
  it("is the bucket's object with the headers the CDN sends, and a 304 when the browser's copy is current", async () => {
    const { pixelUrl } = await local.startPipeline();
    const first = await httpRequest(`${pixelUrl}?user_id=acme&type=view`);
    expect(first.status).toBe(200);
    expect(first.body).toEqual(await readFile(PIXEL_FILE));
    expect(first.headers).toMatchObject({
      "content-type": "image/png",
      "cache-control": "public, max-age=0",
      "content-length": String(first.body.length),
      "last-modified": new Date(Math.floor((await stat(PIXEL_FILE)).mtimeMs / 1000) * 1000).toUTCString(),
    });
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);

    for (const headers of [{ "if-none-match": etag }, { "if-none-match": `"other", W/${etag}` }, { "if-modified-since": first.headers["last-modified"] as string }]) {
      const revalidated = await httpRequest(`${pixelUrl}?user_id=acme&type=view`, { headers });
      expect([revalidated.status, revalidated.body.length, revalidated.headers.etag]).toEqual([304, 0, etag]);
    }
    const stale = await httpRequest(`${pixelUrl}?user_id=acme&type=view`, { headers: { "if-none-match": '"other"' } });
    expect(stale.status).toBe(200);

    // 200, three 304s and the stale 200: every view is an event, as with a client TTL of 0.
    const statuses = await waitFor(
      () => query(local.dir, `SELECT status, count(*) AS n FROM events GROUP BY ALL ORDER BY status`),
      // Loading is asynchronous: wait for all five rows, not just for both statuses to appear.
      (rows) => rows.reduce((total, row) => total + Number(row.n), 0) === 5,
    );
    expect(statuses).toEqual([{ status: 200, n: 2 }, { status: 304, n: 3 }]);
  });

  it("is answered even when the core refuses the request, and the refusal shows in the log, the table and the dashboard", async () => {
    const { pixelUrl, url, logLines } = await local.startPipeline();
    const refused = await httpRequest(`${pixelUrl}?type=click`);
    expect([refused.status, refused.headers["content-type"]]).toEqual([200, "image/png"]);
    expect(refused.body).toEqual(await readFile(PIXEL_FILE));

    // The line is logged once the refusal is committed.
    await waitFor(async () => logLines.length, (lines) => lines === 1);
    expect(logLines).toEqual([expect.objectContaining({ reason: "missing_tenant", severity: "WARNING" })]);
    const stats = JSON.parse((await httpRequest(`${url}api/stats`)).body.toString());
    expect(stats.refusals).toEqual([{ reason: "missing_tenant", count: 1, description: "The tenant attribute is missing or empty." }]);
    const [record] = await query(local.dir, `SELECT message_id, reason, detail, request_timestamp IS NOT NULL AS timed, log_entry FROM refusals`);
    expect(record).toMatchObject({ message_id: "1:0", reason: "missing_tenant", timed: true });
    expect(JSON.parse(record.log_entry as string).httpRequest.requestUrl).toBe(`${pixelUrl}?type=click`);
  });
});

describe("every request is logged like the load balancer logs it", () => {
  it("so favicons, HEADs, POSTs and typos are refusals with their reasons, and only pixel views are rows", async () => {
    const { url, pixelUrl } = await local.startPipeline();
    const answers = [
      await httpRequest(`${url}favicon.ico`),
      await httpRequest(`${pixelUrl}?user_id=acme`, { method: "HEAD" }),
      await httpRequest(`${pixelUrl}?user_id=acme`, { method: "POST", body: "x" }),
      await httpRequest(`${url}pixel.png.bak?user_id=acme`),
      await httpRequest(`${pixelUrl}?user_id=acme&type=click&order_id=12&price=1.25&beta=true`, {
        headers: { "user-agent": "Test/1.0", referer: "https://shop.example/cart?step=2" },
      }),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([404, 200, 405, 404, 200]);
    expect(answers[1].body.length).toBe(0);

    const refusals = await waitFor(refusalCounts, (rows) => rows.reduce((sum, row) => sum + Number(row.n), 0) === 4);
    expect(refusals).toEqual([
      { reason: "method_not_counted", n: 2 },
      { reason: "other_path", n: 2 },
    ]);
    const rows = await waitFor(() => query(local.dir, `SELECT * FROM events`), (found) => found.length === 1);
    expect(rows).toEqual([
      expect.objectContaining({
        tenant: "acme",
        user_id: "acme",
        type: "click",
        order_id: 12,
        price: 1.25,
        beta: true,
        user_agent: "Test/1.0",
        referer: "https://shop.example/cart?step=2",
        host: "127.0.0.1",
        remote_ip: "127.0.0.0",
        status: 200,
        cache_hit: true,
        event_date: new Date().toISOString().slice(0, 10),
      }),
    ]);
    expect(rows[0].event_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it("keeps the cloud's names: a day table per tenant and UTC day, named from the template, under the events view", async () => {
    const { pixelUrl } = await local.startPipeline();
    for (const tenant of ["acme", "Acme Corp", "ünï"]) await httpRequest(`${pixelUrl}?user_id=${encodeURIComponent(tenant)}`);
    await waitFor(() => countRows(local.dir), (n) => n === 3);
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, "");
    // Stored in one table, whatever the number of tenants; the day tables are names the query layer answers.
    const tables = await query(local.dir, `SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY table_name`);
    expect(tables.map((table) => table.table_name)).toEqual(["events_partitioned", "load_jobs", "local_layout", "pixel", "refusals", ...Object.values(ROLLUPS).sort(), "spool_checkpoint"]);
    for (const [table, tenant] of [[`pixel_X41cmeX20X43orp_${today}`, "Acme Corp"], [`pixel_XC3XBCnXC3XAF_${today}`, "ünï"], [`pixel_acme_${today}`, "acme"]]) {
      expect(await query(local.dir, `SELECT user_id FROM ${table}`)).toEqual([{ user_id: tenant }]);
    }
    expect(await query(local.dir, `SELECT tenant FROM events ORDER BY tenant`)).toEqual([{ tenant: "Acme Corp" }, { tenant: "acme" }, { tenant: "ünï" }]);
  });
});

describe("the dashboard", () => {
  it("serves its page and live stats, only to loopback host names", async () => {
    const { url, pixelUrl } = await local.startPipeline();
    await httpRequest(`${pixelUrl}?user_id=acme`);
    await waitFor(() => countRows(local.dir), (n) => n === 1);

    const page = await httpRequest(url);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.body.toString()).toContain('<script src="/app.js"></script>');
    expect((await httpRequest(`${url}app.js`)).status).toBe(200);
    const stats = JSON.parse((await httpRequest(`${url}api/stats`)).body.toString());
    expect(stats).toMatchObject({ pixelPath: "/pixel.png", totals: { events: 1, tenants: 1 }, perMinute: [{ events: 1 }], latest: [{ tenant: "acme" }] });

    // A rebound DNS name reaching the loopback address is not let in.
    expect((await httpRequest(`${url}api/stats`, { headers: { host: "attacker.example" } })).status).toBe(403);
    // The dashboard is not the load balancer: its requests are not logged.
    expect(await query(local.dir, `SELECT count(*) AS n FROM refusals`)).toEqual([{ n: 0 }]);
  });
});

describe("queries", () => {
  it("go through the running server with the token from its 0600 file, and open the file read-only once it stops", async () => {
    const { url, pixelUrl, paths } = await local.startPipeline();
    await httpRequest(`${pixelUrl}?user_id=acme&order_id=9007199254740993`);
    await waitFor(() => countRows(local.dir), (n) => n === 1);

    const serverFile = await readServerFile(paths.serverFile);
    expect(serverFile).toMatchObject({ url, pid: process.pid, database: paths.database });
    expect((await stat(paths.serverFile)).mode & 0o777).toBe(0o600);
    const noToken = await httpRequest(`${url}api/query`, { method: "POST", body: JSON.stringify({ sql: "SELECT 1" }) });
    expect(noToken.status).toBe(401);
    const wrongToken = await httpRequest(`${url}api/query`, {
      method: "POST",
      headers: { authorization: "Bearer wrong" },
      body: JSON.stringify({ sql: "SELECT 1" }),
    });
    expect(wrongToken.status).toBe(401);

    const sql = `SELECT order_id, event_timestamp, CAST(event_timestamp AS TIMESTAMPTZ) AS tz, 42::HUGEINT AS small FROM events`;
    const whileRunning = await query(local.dir, sql);
    expect(whileRunning).toEqual([
      { order_id: "9007199254740993", event_timestamp: expect.stringMatching(/Z$/), tz: whileRunning[0].event_timestamp, small: 42 },
    ]);
    await expect(query(local.dir, "DELETE FROM refusals")).rejects.toThrow(/^only queries can run here \(SELECT, .*\), and this statement is not one$/);
    await expect(query(local.dir, "SELECT nope FROM events")).rejects.toThrow(/Binder Error/);

    await local.stopPipeline();
    expect(await readServerFile(paths.serverFile)).toBeUndefined();
    expect(await query(local.dir, sql)).toEqual(whileRunning);
    await expect(query(local.dir, "DELETE FROM refusals")).rejects.toThrow(/^only queries can run here \(SELECT, .*\), and this statement is not one$/);
  });

  it("print one JSON object per row from the query command, and exit non-zero with the reason on bad SQL", async () => {
    const { pixelUrl } = await local.startPipeline();
    for (const type of ["a", "b"]) await httpRequest(`${pixelUrl}?user_id=acme&type=${type}`);
    await waitFor(() => countRows(local.dir), (n) => n === 2);

    const args = ["--data-dir", local.dir];
    for (const running of [true, false]) {
      if (!running) await local.stopPipeline();
      const ok = await runQueryCommand([...args, "SELECT type, tenant FROM events ORDER BY type"]);
      expect([ok.code, ok.stdout]).toEqual([0, '{"type":"a","tenant":"acme"}\n{"type":"b","tenant":"acme"}\n']);
      const bad = await runQueryCommand([...args, "SELEC 1"]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^query failed: .*Parser Error: syntax error at or near "SELEC"/);
    }
    const missing = await runQueryCommand(["--data-dir", `${local.dir}/nowhere`, "SELECT 1"]);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining("there is no database at")]);
    const usage = await runQueryCommand([...args]);
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringContaining("Usage: npm run --silent query")]);
  });
});

describe("graceful shutdown and restarts", () => {
  it("loads everything answered before close, and a restart adds nothing twice", async () => {
    const { pixelUrl } = await local.startPipeline();
    await Promise.all(Array.from({ length: 50 }, (_, index) => httpRequest(`${pixelUrl}?user_id=acme&order_id=${index}`)));
    await local.stopPipeline();
    expect(await countRows(local.dir)).toBe(50);

    const restarted = await local.startPipeline();
    expect(restarted.recovered).toBe(0);
    await local.stopPipeline();
    expect(await query(local.dir, `SELECT count(*) AS n, count(DISTINCT order_id) AS distinct_ids FROM events`)).toEqual([{ n: 50, distinct_ids: 50 }]);
  });

  it("brings older tables up to a changed template, and dead-letters rows a table cannot take while loading the rest", async () => {
    const { pixelUrl } = await local.startPipeline(settingsFor({ attributes: { user_id: "STRING", order_id: "INT64" } }));
    await httpRequest(`${pixelUrl}?user_id=acme&order_id=1`);
    await local.stopPipeline();

    // order_id becomes a STRING and a new attribute appears: today's table keeps its BIGINT column.
    const changed = await local.startPipeline(settingsFor({ attributes: { user_id: "STRING", order_id: "STRING", coupon: "STRING" } }));
    for (const params of ["order_id=2&coupon=X", "order_id=not-a-number", "order_id=3"]) {
      await httpRequest(`${changed.pixelUrl}?user_id=acme&${params}`);
    }
    await local.stopPipeline();

    expect(await query(local.dir, `SELECT order_id, coupon FROM events ORDER BY order_id`)).toEqual([
      { order_id: 1, coupon: null },
      { order_id: 2, coupon: "X" },
      { order_id: 3, coupon: null },
    ]);
    const [deadLetter] = await query(local.dir, `SELECT reason, severity, detail, log_entry FROM refusals`);
    expect(deadLetter).toMatchObject({ reason: "row_rejected", severity: "ERROR", detail: expect.stringContaining("Conversion Error") });
    expect(deadLetter.log_entry).toContain("order_id=not-a-number");
    expect(changed.logLines).toEqual([expect.objectContaining({ reason: "row_rejected" })]);
  });
});

it("uses the data directory's defaults for the database, spool and server file", () => {
  expect(dataPaths("/d")).toEqual({ dataDir: "/d", database: "/d/pixel.duckdb", spoolDir: "/d/spool", serverFile: "/d/server.json", querySocket: "/d/query.sock" });
  expect(dataPaths("/d", "/elsewhere/x.duckdb").database).toBe("/elsewhere/x.duckdb");
});
