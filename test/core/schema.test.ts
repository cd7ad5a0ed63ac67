import { templateSchema, STANDARD_COLUMNS } from "../../core/schema";
import { acceptedEvent, DEV_SETTINGS, loadBalancerEntry } from "../../testkit/logEntries";

it("generates the template schema from the attribute config: standard columns, then attributes", () => {
  const schema = templateSchema(DEV_SETTINGS.attributes);
  expect(schema.map((field) => field.name)).toEqual([...STANDARD_COLUMNS.map((column) => column.name), "user_id", "order_id", "type"]);
  expect(schema.slice(-3).map((field) => [field.type, field.mode])).toEqual([
    ["STRING", "NULLABLE"],
    ["STRING", "NULLABLE"],
    ["STRING", "NULLABLE"],
  ]);
  expect(schema.find((field) => field.name === "event_timestamp")).toMatchObject({ type: "TIMESTAMP", mode: "REQUIRED" });
});

it("is exactly what every row holds: each column once, in every row, whether or not it has a value", () => {
  const schema = templateSchema(DEV_SETTINGS.attributes).map((field) => field.name);
  for (const entry of [loadBalancerEntry(), loadBalancerEntry({ httpRequest: { userAgent: undefined, referer: undefined, remoteIp: undefined } })]) {
    expect(Object.keys(acceptedEvent(entry).row).sort()).toEqual([...schema].sort());
  }
  expect(new Set(schema).size).toBe(schema.length);
});

it("adds only NULLABLE columns after the first fifteen, so a deployed table can take them", () => {
  expect(STANDARD_COLUMNS.slice(15).map((column) => column.mode)).toEqual(STANDARD_COLUMNS.slice(15).map(() => "NULLABLE"));
  expect(STANDARD_COLUMNS.slice(15).map((column) => column.name)).toEqual([
    "visitor_id", "country", "browser", "browser_version", "os", "device_type", "page_host", "page_path",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
  ]);
});
