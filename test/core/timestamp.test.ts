import fc from "fast-check";
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
  // Offsets with minutes: dropping them puts the event half an hour off, or on another day.
  ["2026-01-05T12:00:00+05:30", "2026-01-05T06:30:00.000000Z", "20260105"],
  ["2026-01-05T03:00:00+05:30", "2026-01-04T21:30:00.000000Z", "20260104"],
  ["2026-01-05T00:00:00-09:30", "2026-01-05T09:30:00.000000Z", "20260105"],
  ["2026-01-05T20:00:00-09:30", "2026-01-06T05:30:00.000000Z", "20260106"],
  ["2026-01-01T00:00:00+23:59", "2025-12-31T00:01:00.000000Z", "20251231"],
  // An offset that pushes the instant out of years 1 to 9999.
  ["0001-01-01T00:30:00+01:00", undefined, undefined],
  ["9999-12-31T23:30:00-01:00", undefined, undefined],
  // Fields one past their range.
  ["2026-01-01T00:00:60Z", undefined, undefined],
  ["2026-01-01T00:60:00Z", undefined, undefined],
  ["2026-00-01T00:00:00Z", undefined, undefined],
  ["2026-01-01T00:00:00+24:00", undefined, undefined],
  ["2026-01-01T00:00:00+05:60", undefined, undefined],
  ["0000-01-01T00:00:00Z", undefined, undefined],
  // A character just below "0" where a digit belongs.
  ["2026-01-1/T00:00:00Z", undefined, undefined],
  // A zone that is neither Z nor ±HH:MM, or text after it.
  ["2026-01-01T00:00:00Zx", undefined, undefined],
  ["2026-01-01T00:00:00X05:00", undefined, undefined],
  ["2026-01-01T00:00:00+05-00", undefined, undefined],
  ["2026-01-01T00:00:00+5:00", undefined, undefined],
  ["2026-01-01T00:00:00+0a:00", undefined, undefined],
  ["2026-01-01T00:00:00+05:0a", undefined, undefined],
  ["2026-01-01T00:00:00+05:00Z", undefined, undefined],
  // Years from 100 on are not among those Date.UTC moves to the 1900s.
  ["0100-01-01T00:30:00+01:00", "0099-12-31T23:30:00.000000Z", "00991231"],
  ["0099-01-01T00:30:00+01:00", "0098-12-31T23:30:00.000000Z", "00981231"],
])("timestamp %p", (value, iso, utcDay) => {
  it("parses to UTC with microseconds, or not at all", () => {
    const parsed = parseTimestamp(value);
    expect(parsed?.iso).toBe(iso);
    expect(parsed?.utcDay).toBe(utcDay);
  });
});

/** The length of each month, January first, in a leap year and in a common one. */
const MONTH_LENGTHS = {
  2024: [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
  2023: [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
};
const twoDigits = (value: number) => String(value).padStart(2, "0");
const MONTH_ENDS = Object.entries(MONTH_LENGTHS).flatMap(([year, lengths]) =>
  lengths.map((length, index) => ({ year, month: twoDigits(index + 1), lastDay: twoDigits(length), dayAfter: twoDigits(length + 1) })),
);

describe.each(MONTH_ENDS)("the end of $year-$month", ({ year, month, lastDay, dayAfter }) => {
  test(`day ${lastDay} is a date, and its own UTC day`, () => {
    expect(parseTimestamp(`${year}-${month}-${lastDay}T23:59:59Z`)).toEqual({ iso: `${year}-${month}-${lastDay}T23:59:59.000000Z`, utcDay: `${year}${month}${lastDay}` });
  });

  test(`day ${dayAfter} is not`, () => {
    expect(parseTimestamp(`${year}-${month}-${dayAfter}T00:00:00Z`)).toBeUndefined();
  });
});

/**
 * The grammar as the regular expression the parser replaced (core/timestamp.ts reads by character
 * for speed), with the same range checks: the reference for any string near a timestamp.
 */
const RFC3339_REFERENCE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|([+-])(\d{2}):(\d{2}))$/;
function referenceParse(value: string): string | undefined {
  const match = RFC3339_REFERENCE.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zone, sign, offsetHours, offsetMinutes] = match;
  const whole = new Date(0);
  whole.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  whole.setUTCHours(Number(hour), Number(minute), Number(second));
  const fieldsHold = whole.getUTCFullYear() === Number(year) && whole.getUTCMonth() === Number(month) - 1 && whole.getUTCDate() === Number(day);
  if (!fieldsHold || Number(year) < 1 || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  if (zone.toUpperCase() !== "Z" && (Number(offsetHours) > 23 || Number(offsetMinutes) > 59)) return undefined;
  const offsetMinutesTotal = zone.toUpperCase() === "Z" ? 0 : (sign === "-" ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes));
  const utc = new Date(whole.getTime() - offsetMinutesTotal * 60_000);
  if (utc.getUTCFullYear() < 1 || utc.getUTCFullYear() > 9999) return undefined;
  const iso = utc.toISOString();
  return `${iso.startsWith("+") || iso.startsWith("-") ? iso.slice(3, 22) : iso.slice(0, 19)}.${(fraction ?? "").padEnd(6, "0").slice(0, 6)}Z`;
}

test("any string near a timestamp parses as the RFC 3339 grammar and calendar say", () => {
  const digits = (length: number) => fc.stringMatching(new RegExp(`^\\d{${length}}$`));
  const piece = (valid: fc.Arbitrary<string>) => fc.oneof({ weight: 8, arbitrary: valid }, { weight: 1, arbitrary: fc.string({ maxLength: 3 }) });
  const nearTimestamp = fc
    .tuple(
      piece(fc.oneof(digits(4), fc.constantFrom("0001", "0099", "2024", "9999"))),
      piece(fc.constantFrom("-")),
      piece(fc.integer({ min: 0, max: 13 }).map((month) => String(month).padStart(2, "0"))),
      piece(fc.constantFrom("-")),
      piece(fc.integer({ min: 0, max: 32 }).map((day) => String(day).padStart(2, "0"))),
      piece(fc.constantFrom("T", "t", " ")),
      piece(fc.integer({ min: 0, max: 24 }).map((hour) => String(hour).padStart(2, "0"))),
      piece(fc.constantFrom(":")),
      piece(digits(2)),
      piece(fc.constantFrom(":")),
      piece(digits(2)),
      fc.oneof(fc.constant(""), fc.integer({ min: 0, max: 11 }).chain((length) => digits(length).map((fraction) => `.${fraction}`))),
      piece(fc.oneof(fc.constantFrom("Z", "z"), fc.tuple(fc.constantFrom("+", "-"), digits(2), fc.constantFrom(":"), digits(2)).map((parts) => parts.join("")))),
    )
    .map((parts) => parts.join(""));
  fc.assert(
    fc.property(nearTimestamp, (value) => {
      expect(parseTimestamp(value)?.iso).toBe(referenceParse(value));
    }),
    { numRuns: 20_000 },
  );
});
