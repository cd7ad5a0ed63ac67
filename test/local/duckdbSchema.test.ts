import { DuckDBInstance } from "@duckdb/node-api";
import type { DuckDBConnection } from "@duckdb/node-api";
import fc from "fast-check";
import { templateSchema } from "../../core/schema";
import type { SchemaField } from "../../core/schema";
import { tableSuffix } from "../../core/tenant";
import { toJsonRows } from "../../local/database";
import {
  addMissingColumnsSql,
  createTableSql,
  dayTableName,
  DUCKDB_TYPES,
  insertRowsSql,
  parseDayTableName,
  rowsParameter,
  sqlString,
} from "../../local/duckdbSchema";
import { settingsFor } from "../../testkit/settings";

describe.each<[SchemaField["type"], string]>([
  ["STRING", "VARCHAR"],
  ["INT64", "BIGINT"],
  ["FLOAT64", "DOUBLE"],
  ["BOOL", "BOOLEAN"],
  ["TIMESTAMP", "TIMESTAMP"],
])("the BigQuery type %s", (bigQueryType, duckdbType) => {
  it(`is ${duckdbType} in DuckDB`, () => expect(DUCKDB_TYPES[bigQueryType]).toBe(duckdbType));
});

describe.each([
  ["pixel", "pixel_acme_20260517", { tenant: "acme", date: "2026-05-17" }],
  ["pixel", "pixel_acmeX2Dcorp_20260101", { tenant: "acme-corp", date: "2026-01-01" }],
  ["my_pixel", "my_pixel_X41cme_20261231", { tenant: "Acme", date: "2026-12-31" }],
  ["pixel", "pixel_acme_2026051", undefined],
  ["pixel", "pixel_acme_corp_20260517", undefined],
  ["pixel", "pixel_X61_20260517", undefined],
  ["pixel", "pixelacme_20260517", undefined],
  ["pixel", "refusals", undefined],
  ["pixel", "pixel", undefined],
])("parseDayTableName(%p, %p)", (template, name, expected) => {
  it(`is ${JSON.stringify(expected)}`, () => {
    expect(parseDayTableName(template, name)).toEqual(expected && { name, ...expected });
  });
});

it("reads back the tenant and day of every table name the core can produce", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 20, unit: "grapheme" }),
      fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }),
      (tenant, date) => {
        const iso = date.toISOString().slice(0, 10);
        const table = dayTableName("pixel", tableSuffix(tenant, iso.replace(/-/g, "")));
        expect(parseDayTableName("pixel", table)).toEqual({ name: table, tenant, date: iso });
      },
    ),
  );
});

describe("SQL text in a real DuckDB", () => {
  let schema: ReturnType<typeof templateSchema>;
  let instance: DuckDBInstance;

  beforeAll(() => {
    schema = templateSchema(settingsFor().attributes);
  });
  let connection: DuckDBConnection;

  beforeEach(async () => {
    instance = await DuckDBInstance.create(":memory:");
    connection = await instance.connect();
  });
  afterEach(() => {
    connection.closeSync();
    instance.closeSync();
  });

  async function rows(sql: string) {
    return toJsonRows(await connection.runAndReadAll(sql));
  }

  it("creates the template's columns with the mapped types, required ones NOT NULL, keyed on insert_id", async () => {
    await connection.run(createTableSql("pixel_acme_20260517", schema));
    const columns = await rows(`SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'pixel_acme_20260517' ORDER BY ordinal_position`);
    expect(columns).toEqual(
      schema.map((field) => ({ column_name: field.name, data_type: DUCKDB_TYPES[field.type], is_nullable: field.mode === "REQUIRED" ? "NO" : "YES" })),
    );
    const [key] = await rows(`SELECT constraint_column_names AS columns FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'`);
    expect(key).toEqual({ columns: ["insert_id"] });
  });

  it("stores the core's JSON values exactly: INT64 as decimal strings beyond 2^53, timestamps in microseconds", async () => {
    await connection.run(createTableSql("t", schema));
    const row = { event_timestamp: "2026-05-17T06:40:00.123456Z", insert_id: "id-1", order_id: "9223372036854775807", price: 9.5, beta: false, user_id: "a'b\0c" };
    const columns = Object.keys(row) as (keyof typeof row)[];
    await connection.run(insertRowsSql("t", columns), [rowsParameter(columns, [row])]);
    expect(await rows(`SELECT ${columns.join(", ")} FROM t`)).toEqual([row]);
    expect(await rows(`SELECT order_id - 1 AS below FROM t`)).toEqual([{ below: "9223372036854775806" }]);
  });

  it("inserts a batch in one parameter: missing values as NULL, unpaired surrogates as U+FFFD, a value that does not fit as a Conversion Error", async () => {
    await connection.run(createTableSql("t", schema));
    const columns = ["event_timestamp", "insert_id", "user_id", "order_id", "price"] as const;
    type BatchRow = Partial<Record<(typeof columns)[number], string | number>>;
    const batch: BatchRow[] = [
      { event_timestamp: "2026-05-17T00:00:00Z", insert_id: "a", user_id: "lone \ud800 and paired 😀", order_id: "1", price: 0.1 },
      { event_timestamp: "2026-05-17T00:00:01Z", insert_id: "b", user_id: "back\\ud800slash" },
    ];
    await connection.run(insertRowsSql("t", columns), [rowsParameter(columns, batch)]);
    expect(await rows(`SELECT ${columns.join(", ")} FROM t ORDER BY insert_id`)).toEqual([
      { ...batch[0], event_timestamp: "2026-05-17T00:00:00.000000Z", user_id: "lone \ufffd and paired 😀", order_id: 1 },
      { ...batch[1], event_timestamp: "2026-05-17T00:00:01.000000Z", order_id: null, price: null },
    ]);
    const misfit: BatchRow = { event_timestamp: "2026-05-17T00:00:00Z", insert_id: "c", order_id: "not-a-number" };
    await expect(connection.run(insertRowsSql("t", columns), [rowsParameter(columns, [misfit])])).rejects.toThrow(/^Conversion Error/);
  });

  it("skips a row whose insert_id is already stored", async () => {
    await connection.run(createTableSql("t", schema));
    for (const type of ["first", "second"]) {
      const columns = ["event_timestamp", "insert_id", "type"] as const;
      await connection.run(insertRowsSql("t", columns), [rowsParameter(columns, [{ event_timestamp: "2026-05-17T00:00:00Z", insert_id: "same", type }])]);
    }
    expect(await rows(`SELECT type FROM t`)).toEqual([{ type: "first" }]);
  });

  it("adds an attribute column to a table made from an older template, and leaves the table alone otherwise", async () => {
    const older = schema.filter((field) => field.name !== "price");
    await connection.run(createTableSql("t", older));
    for (const sql of [...addMissingColumnsSql("t", schema), ...addMissingColumnsSql("t", schema)]) await connection.run(sql);
    const columns = await rows(`SELECT column_name FROM information_schema.columns WHERE table_name = 't'`);
    expect(columns.map((column) => column.column_name).sort()).toEqual(schema.map((field) => field.name).sort());
  });

  it.each(["plain", "it's", "nul\0in\0side", "", "\0", "ünï😀"])("round-trips %j as a string literal", async (text) => {
    expect(await rows(`SELECT ${sqlString(text)} AS text`)).toEqual([{ text }]);
  });

  it("turns results into JSON: safe integers as numbers, larger ones as strings, timestamps as ISO 8601 in UTC", async () => {
    const sql = `SELECT 1::BIGINT AS small, 9007199254740993::BIGINT AS big, -9007199254740993::HUGEINT AS negative,
      TIMESTAMP '1969-12-31 23:59:59.999999' AS before_epoch, TIMESTAMPTZ '2026-05-17 08:40:00.5+02' AS with_zone,
      TIMESTAMP 'infinity' AS forever, DATE '2026-05-17' AS day, 2.5::DOUBLE AS real, true AS flag, NULL AS nothing`;
    expect(await rows(sql)).toEqual([
      {
        small: 1,
        big: "9007199254740993",
        negative: "-9007199254740993",
        before_epoch: "1969-12-31T23:59:59.999999Z",
        with_zone: "2026-05-17T06:40:00.500000Z",
        forever: "infinity",
        day: "2026-05-17",
        real: 2.5,
        flag: true,
        nothing: null,
      },
    ]);
  });
});
