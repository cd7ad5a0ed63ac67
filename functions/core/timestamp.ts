/** An RFC 3339 instant from a log entry, cut to BigQuery's microsecond precision. */
export interface EventInstant {
  /** ISO 8601 in UTC with six fractional digits, e.g. "2017-05-17T11:12:28.408747Z". */
  readonly iso: string;
  /** The UTC calendar day, zero-padded: "20170517". */
  readonly utcDay: string;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Log entries carry nanoseconds ("2017-05-17T11:12:28.408747509Z"), which Date cannot hold,
 * so the fraction is kept as digits and only whole seconds go through Date.
 */
export function parseTimestamp(value: unknown): EventInstant | undefined {
  if (typeof value !== "string") return undefined;
  const match = RFC3339.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number);
  if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const startOfDay = Date.UTC(year, month - 1, day);
  if (new Date(startOfDay).getUTCDate() !== day) return undefined;
  const offsetMinutes = match[9] ? (match[9] === "-" ? -1 : 1) * (Number(match[10]) * 60 + Number(match[11])) : 0;
  if (offsetMinutes !== 0 && (Number(match[10]) > 23 || Number(match[11]) > 59)) return undefined;
  const utc = new Date(Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000);
  if (utc.getUTCFullYear() < 1 || utc.getUTCFullYear() > 9999) return undefined;
  const micros = (match[7] ?? "").padEnd(6, "0").slice(0, 6);
  const wholeSeconds = utc.toISOString().slice(0, 19);
  return { iso: `${wholeSeconds}.${micros}Z`, utcDay: wholeSeconds.slice(0, 10).replace(/-/g, "") };
}
