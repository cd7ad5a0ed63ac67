/** An RFC 3339 instant from a log entry, cut to BigQuery's microsecond precision. */
export interface EventInstant {
  /** ISO 8601 in UTC with six fractional digits, e.g. "2017-05-17T11:12:28.408747Z". */
  readonly iso: string;
  /** The UTC calendar day, zero-padded: "20170517". */
  readonly utcDay: string;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const [DASH, COLON, DOT, PLUS, MINUS] = ["-", ":", ".", "+", "-"].map((text) => text.charCodeAt(0));
/** At most nanoseconds, as Cloud Logging writes them. */
const MAX_FRACTION_DIGITS = 9;

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
}

/** The number that `count` ASCII digits from `start` spell, or -1 if any is not a digit. */
function digitsAt(text: string, start: number, count: number): number {
  let value = 0;
  for (let index = start; index < start + count; index++) {
    const digit = text.charCodeAt(index) - 48;
    // Past the end charCodeAt gives NaN, which no comparison lets through.
    if (!(digit >= 0 && digit <= 9)) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9 digits, then Z or
 * ±HH:MM ("T" and "Z" in either case). Log entries carry nanoseconds ("2017-05-17T11:12:28.408747509Z"),
 * which Date cannot hold, so the fraction is kept as digits. Logging writes UTC ("Z"), which needs
 * no arithmetic and is assembled from the text itself; only an offset goes through Date. Read by
 * character rather than by a regular expression: two timestamps per event made the match and its
 * twelve captures a measurable part of the core (bench/notes.md).
 */
export function parseTimestamp(value: unknown): EventInstant | undefined {
  if (typeof value !== "string") return undefined;
  const year = digitsAt(value, 0, 4);
  const [month, day, hour, minute, second] = [digitsAt(value, 5, 2), digitsAt(value, 8, 2), digitsAt(value, 11, 2), digitsAt(value, 14, 2), digitsAt(value, 17, 2)];
  const separatorsHold =
    value.charCodeAt(4) === DASH && value.charCodeAt(7) === DASH && (value[10] === "T" || value[10] === "t") && value.charCodeAt(13) === COLON && value.charCodeAt(16) === COLON;
  if (!separatorsHold || Math.min(year, month, day, hour, minute, second) < 0) return undefined;
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let zoneAt = 19;
  if (value.charCodeAt(zoneAt) === DOT) {
    zoneAt++;
    while (zoneAt < value.length && digitsAt(value, zoneAt, 1) >= 0) zoneAt++;
    if (zoneAt === 20 || zoneAt - 20 > MAX_FRACTION_DIGITS) return undefined;
  }
  const micros = zoneAt === 19 ? "000000" : value.slice(20, Math.min(zoneAt, 26)).padEnd(6, "0");
  const zone = value.charCodeAt(zoneAt);
  if ((value[zoneAt] === "Z" || value[zoneAt] === "z") && value.length === zoneAt + 1) {
    return { iso: `${value.slice(0, 10)}T${value.slice(11, 19)}.${micros}Z`, utcDay: `${value.slice(0, 4)}${value.slice(5, 7)}${value.slice(8, 10)}` };
  }
  const [offsetHours, offsetMinutes] = [digitsAt(value, zoneAt + 1, 2), digitsAt(value, zoneAt + 4, 2)];
  if ((zone !== PLUS && zone !== MINUS) || value.charCodeAt(zoneAt + 3) !== COLON || value.length !== zoneAt + 6) return undefined;
  if (offsetHours < 0 || offsetMinutes < 0 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  const offset = (zone === MINUS ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  const utc = new Date(Date.UTC(year, month - 1, day, hour, minute, second) - offset * 60_000);
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear puts them back.
  utc.setUTCFullYear(utc.getUTCFullYear() - (year < 100 ? 1900 : 0));
  if (utc.getUTCFullYear() < 1 || utc.getUTCFullYear() > 9999) return undefined;
  const wholeSeconds = utc.toISOString().slice(0, 19);
  return { iso: `${wholeSeconds}.${micros}Z`, utcDay: wholeSeconds.slice(0, 10).replace(/-/g, "") };
}
