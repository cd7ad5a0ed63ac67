import { parseTimestamp } from "../../core/timestamp";

describe.each<[unknown, string | undefined, string | undefined]>([
  ["2017-05-17T11:12:28.408747509Z", "2017-05-17T11:12:28.408747Z", "20170517"],
  ["2017-05-17T11:12:28Z", "2017-05-17T11:12:28.000000Z", "20170517"],
  ["2017-05-17t11:12:28.1z", "2017-05-17T11:12:28.100000Z", "20170517"],
  ["2024-02-29T23:00:00-02:00", "2024-03-01T01:00:00.000000Z", "20240301"],
  ["0050-01-01T00:30:00+01:00", "0049-12-31T23:30:00.000000Z", "00491231"],
  ["2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000000Z", "20000229"],
  ["1900-02-29T00:00:00Z", undefined, undefined],
  ["2017-05-00T00:00:00Z", undefined, undefined],
  ["2023-02-29T00:00:00Z", undefined, undefined],
  ["2017-13-01T00:00:00Z", undefined, undefined],
  ["2017-05-17T24:00:00Z", undefined, undefined],
  ["2017-05-17 11:12:28Z", undefined, undefined],
  ["2017-05-17T11:12:28", undefined, undefined],
  [1495019548, undefined, undefined],
  [undefined, undefined, undefined],
])("timestamp %p", (value, iso, utcDay) => {
  it("parses to UTC with microseconds, or not at all", () => {
    const parsed = parseTimestamp(value);
    expect(parsed?.iso).toBe(iso);
    expect(parsed?.utcDay).toBe(utcDay);
  });
});
