import { VIEWS } from "../core/layout";
import type { AttributeType } from "../core/attributes";
import type { CoreSettings } from "../core/config/coreSettings";
import { encodeTenant } from "../core/tenant";
import { googleSqlString } from "../core/views";

/**
 * The ready-to-use snippets in the stack outputs: where the pixel is, an <img> tag that sends
 * one example event, and a query that reads one tenant's events back.
 */

const EXAMPLE_VALUES: Record<AttributeType, string> = {
  STRING: "example",
  INT64: "42",
  FLOAT64: "9.99",
  BOOL: "true",
};

/** A tenant the function accepts: the first allowlisted one, if there is an allowlist. */
export function exampleTenant(core: CoreSettings): string {
  return core.tenantAllowlist?.[0] ?? "acme";
}

/** With a domain the pixel is served over HTTPS on it; without, over HTTP on the load balancer's IP. */
export function pixelUrl(core: CoreSettings, ipAddress: string, domain?: string): string {
  return domain ? `https://${domain}${core.pixelPath}` : `http://${ipAddress}${core.pixelPath}`;
}

export function servingNote(domain?: string): string {
  return domain
    ? `HTTPS on ${domain}; plain HTTP redirects to HTTPS with the query kept. Point an A record for ${domain} at the ipAddress output; the certificate becomes active up to about an hour after DNS resolves.`
    : "HTTP only, on the load balancer's IP, for trying the pipeline out. Set pixel-pipeline:domain to serve HTTPS with a Google-managed certificate.";
}

/** The pixel URL with the example tenant first, then one example value per other attribute. */
export function examplePixelUrl(core: CoreSettings, baseUrl: string): string {
  const others = core.attributes.filter((attribute) => attribute.name !== core.tenantAttribute);
  const pairs = [[core.tenantAttribute, exampleTenant(core)], ...others.map((attribute) => [attribute.name, EXAMPLE_VALUES[attribute.type]])];
  return `${baseUrl}?${pairs.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join("&")}`;
}

/**
 * The pixel is cross-origin, and browsers then send only the page's origin as Referer unless the
 * page asks for more: this policy sends the whole page URL over HTTPS, so page_path and the page's campaign parameters can be read.
 * Drop the attribute to send the origin only (docs/deploy.md#the-page-and-the-referer).
 */
export const PIXEL_REFERRER_POLICY = "no-referrer-when-downgrade";

/** A 1x1 image kept out of the page's layout; `&` is escaped because the URL sits in an HTML attribute. */
export function imgTag(url: string): string {
  return `<img src="${url.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}" width="1" height="1" alt="" referrerpolicy="${PIXEL_REFERRER_POLICY}" style="position:absolute">`;
}

export interface DayRange {
  /** First UTC day, YYYYMMDD. */
  readonly from: string;
  /** Last UTC day, YYYYMMDD. */
  readonly to: string;
}

/** The `days` UTC days that end with the day of `now`. */
export function lastUtcDays(now: Date, days: number): DayRange {
  const day = (date: Date) => date.toISOString().slice(0, 10).replace(/-/g, "");
  return { from: day(new Date(now.getTime() - (days - 1) * 86_400_000)), to: day(now) };
}

/**
 * One tenant's events over a date range, reading only that tenant's days. per-tenant-day: the
 * wildcard `<template>_<tenant>_*` reaches that tenant's day tables only (encoded tenants contain
 * no "_"), so `_TABLE_SUFFIX` is just the day. partitioned: the events view, filtered on the
 * partitioning column event_date and the first clustering column tenant.
 */
export function exampleQuery(project: string, datasetId: string, core: CoreSettings, days: DayRange): string {
  // Backticks, because an attribute may be named like a keyword ("order", "from").
  const select = `SELECT event_timestamp, ${core.attributes.map((attribute) => `\`${attribute.name}\``).join(", ")}`;
  const tenant = exampleTenant(core);
  const from =
    core.layout === "partitioned"
      ? [
          `FROM \`${project}.${datasetId}.${VIEWS.events}\``,
          `WHERE tenant = ${googleSqlString(tenant)} AND event_date BETWEEN DATE '${isoDay(days.from)}' AND DATE '${isoDay(days.to)}'`,
        ]
      : [`FROM \`${project}.${datasetId}.${core.templateTable}_${encodeTenant(tenant)}_*\``, `WHERE _TABLE_SUFFIX BETWEEN '${days.from}' AND '${days.to}'`];
  return [select, ...from, "ORDER BY event_timestamp"].join("\n");
}

function isoDay(day: string): string {
  return `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`;
}
