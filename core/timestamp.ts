/** An RFC 3339 instant from a log entry, cut to BigQuery's microsecond precision. */
export interface EventInstant {
  /** ISO 8601 in UTC with six fractional digits, e.g. "2017-05-17T11:12:28.408747Z". */
  readonly iso: string;
  /** The UTC calendar day, zero-padded: "20170517". */
  readonly utcDay: string;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|([+-])(\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
}

/**
 * Log entries carry nanoseconds ("2017-05-17T11:12:28.408747509Z"), which Date cannot hold,
 * so the fraction is kept as digits. Logging writes UTC ("Z"), which needs no arithmetic and is
 * assembled from the matched fields on this per-event path; only an offset goes through Date.
 */
export function parseTimestamp(value: unknown): EventInstant | undefined {
  if (typeof value !== "string") return undefined;
  const match = RFC3339.exec(value);
  if (!match) return undefined;
  const [, yearText, monthText, dayText, hour, minute, second, fraction, zone, sign, offsetHours, offsetMinutes] = match;
  const [year, month, day] = [Number(yearText), Number(monthText), Number(dayText)];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  const micros = (fraction ?? "").padEnd(6, "0").slice(0, 6);
  if (zone === "Z" || zone === "z") {
    return { iso: `${yearText}-${monthText}-${dayText}T${hour}:${minute}:${second}.${micros}Z`, utcDay: `${yearText}${monthText}${dayText}` };
  }
  if (Number(offsetHours) > 23 || Number(offsetMinutes) > 59) return undefined;
  const offset = (sign === "-" ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes));
  const utc = new Date(Date.UTC(year, month - 1, day, Number(hour), Number(minute), Number(second)) - offset * 60_000);
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear puts them back.
  utc.setUTCFullYear(utc.getUTCFullYear() - (year < 100 ? 1900 : 0));
  if (utc.getUTCFullYear() < 1 || utc.getUTCFullYear() > 9999) return undefined;
  const wholeSeconds = utc.toISOString().slice(0, 19);
  return { iso: `${wholeSeconds}.${micros}Z`, utcDay: wholeSeconds.slice(0, 10).replace(/-/g, "") };
}
