import type { AttributeSpec, AttributeType } from "./attributes";

/** A value of one column, as streamed to BigQuery; INT64 travels as a decimal string. */
export type ColumnValue = string | number | boolean | null;

/** One event as a row: column name to value. */
export type Row = Record<string, ColumnValue>;

/** A BigQuery table field, in the JSON form that both the API and `gcp.bigquery.Table.schema` take. */
export interface SchemaField {
  readonly name: string;
  readonly type: "STRING" | "INT64" | "FLOAT64" | "BOOL" | "TIMESTAMP" | "DATE";
  readonly mode: "REQUIRED" | "NULLABLE";
  readonly description: string;
}

/** The campaign parameters: each is read from a query parameter into the column of the same name. */
export const CAMPAIGN_PARAMETERS = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"] as const;

/** The values of device_type. */
export const DEVICE_TYPES = ["desktop", "mobile", "tablet", "other"] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

/** Columns every row has, before the whitelisted attributes. All are scalars. */
export const STANDARD_COLUMNS: readonly SchemaField[] = [
  { name: "event_timestamp", type: "TIMESTAMP", mode: "REQUIRED", description: "When the load balancer received the pixel request (UTC); the table's date comes from it." },
  { name: "insert_id", type: "STRING", mode: "REQUIRED", description: "Stable id of the event, the same on every redelivery; deduplicate on it." },
  { name: "receive_timestamp", type: "TIMESTAMP", mode: "NULLABLE", description: "When Cloud Logging received the entry; compare with event_timestamp to find late events." },
  { name: "log_insert_id", type: "STRING", mode: "NULLABLE", description: "The Cloud Logging entry's insertId, to find the raw log entry." },
  { name: "host", type: "STRING", mode: "NULLABLE", description: "Host name the pixel was requested from." },
  { name: "user_agent", type: "STRING", mode: "NULLABLE", description: "The browser's User-Agent header." },
  { name: "referer", type: "STRING", mode: "NULLABLE", description: "The page that embedded the pixel (Referer header)." },
  { name: "remote_ip", type: "STRING", mode: "NULLABLE", description: "Client IP without port; cut to /24 (IPv4) or /48 (IPv6) unless anonymizeIp is false." },
  { name: "status", type: "INT64", mode: "NULLABLE", description: "HTTP status the load balancer answered: 200, or 304 for a revalidated pixel." },
  { name: "cache_hit", type: "BOOL", mode: "NULLABLE", description: "Whether Cloud CDN answered from its cache." },
  { name: "cache_id", type: "STRING", mode: "NULLABLE", description: "The Cloud CDN cache location that served the request, e.g. SFO-fbae48ad." },
  { name: "is_bot", type: "BOOL", mode: "NULLABLE", description: "The user agent is a crawler, monitor or script (isbot patterns), or missing. E-mail image proxies are not bots." },
  { name: "email_proxy", type: "STRING", mode: "NULLABLE", description: "The e-mail image proxy that fetched the pixel: gmail, yahoo or apple_mail_privacy (a prefetch, not an open)." },
  { name: "dnt", type: "BOOL", mode: "NULLABLE", description: "The URL carried dnt (not 0/false): remote_ip and user_agent were not stored." },
  { name: "invalid_attributes", type: "STRING", mode: "NULLABLE", description: "Comma-separated names of attributes whose value did not fit their type and were stored as NULL." },
  // The answers: derived from the request in the core, never from anything else.
  { name: "visitor_id", type: "STRING", mode: "NULLABLE", description: "Daily visitor id: a keyed hash of the UTC day, tenant, full client IP and user agent; the same within one tenant and day, unlinkable across them. NULL with dnt." },
  { name: "country", type: "STRING", mode: "NULLABLE", description: "ISO 3166-1 alpha-2 country of the full client IP (IP Geolocation by DB-IP); NULL for private, loopback or unknown addresses." },
  { name: "browser", type: "STRING", mode: "NULLABLE", description: "Browser family from the user agent: Chrome, Safari, Firefox, Edge, Opera, Samsung Internet …; NULL if unknown." },
  { name: "browser_version", type: "STRING", mode: "NULLABLE", description: "The browser's major version, as text: \"120\"." },
  { name: "os", type: "STRING", mode: "NULLABLE", description: "Operating system from the user agent: Windows, macOS, iOS, Android, Linux, Chrome OS …; NULL if unknown." },
  { name: "device_type", type: "STRING", mode: "NULLABLE", description: `Exactly one of ${DEVICE_TYPES.join(", ")} (crawlers, TVs and unknown devices are other).` },
  { name: "page_host", type: "STRING", mode: "NULLABLE", description: "Host of the page that showed the pixel (the Referer); NULL without a web page Referer." },
  { name: "page_path", type: "STRING", mode: "NULLABLE", description: "Path of the page that showed the pixel (the Referer), without query string or fragment." },
  ...CAMPAIGN_PARAMETERS.map((name): SchemaField => ({
    name,
    type: "STRING",
    mode: "NULLABLE",
    description: `The campaign's ${name}: from the pixel URL, else from the page URL's query; NULL when absent or with utmColumns off.`,
  })),
];

export const STANDARD_COLUMN_NAMES: ReadonlySet<string> = new Set(STANDARD_COLUMNS.map((column) => column.name));

const ATTRIBUTE_DESCRIPTIONS: Record<AttributeType, string> = {
  STRING: "query parameter, percent-decoded",
  INT64: "query parameter as a whole number; NULL if it was not one",
  FLOAT64: "query parameter as a number; NULL if it was not one",
  BOOL: "query parameter as true/false (also 1/0); NULL if it was neither",
};

/** The template table's schema: the standard columns, then one NULLABLE column per attribute. */
export function templateSchema(attributes: readonly AttributeSpec[]): SchemaField[] {
  return [
    ...STANDARD_COLUMNS,
    ...attributes.map((attribute): SchemaField => ({
      name: attribute.name,
      type: attribute.type,
      mode: "NULLABLE",
      description: `The "${attribute.name}" ${ATTRIBUTE_DESCRIPTIONS[attribute.type]}.`,
    })),
  ];
}
