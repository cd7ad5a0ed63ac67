import { templateSchema, STANDARD_COLUMNS } from "../../core/schema";
import { DEV_SETTINGS } from "../../testkit/logEntries";

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
