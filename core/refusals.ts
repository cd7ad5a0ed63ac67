import { MAX_TENANT_BYTES } from "./tenant";

/** Why an entry is not an event: only what the parser returns. Each code is documented in the README. */
export const REFUSAL_REASONS = {
  invalid_message: "The Pub/Sub message is not a base64 JSON log entry.",
  not_load_balancer: 'The entry is not an "http_load_balancer" request log.',
  cdn_subrequest: "Cloud CDN's own validation or byte-range request (it has jsonPayload.parentInsertId); the browser's request is counted instead.",
  missing_http_request: "The entry has no httpRequest or no requestUrl.",
  invalid_url: "httpRequest.requestUrl is not a URL.",
  other_path: "The request was not for the pixel path (a favicon, a probe, a typo).",
  method_not_counted: "Only GET requests are pixel views; HEAD and others are refused.",
  status_not_counted: "Only 200 and 304 (a revalidated pixel) are events; 404s, denials and disconnects are not.",
  invalid_entry: "The entry has no insertId or no valid RFC 3339 timestamp.",
  missing_signature: "signedUrls is on and the URL has no sig parameter.",
  invalid_signature: "The URL's sig does not match its parameters under any signing key (forged or altered).",
  missing_tenant: "The tenant attribute is missing or empty.",
  ambiguous_tenant: "The tenant attribute is repeated with different values.",
  invalid_tenant: `The tenant is longer than ${MAX_TENANT_BYTES} bytes of UTF-8, or is not valid text.`,
  tenant_not_allowed: "The tenant is not in tenantAllowlist.",
} as const;

export type RefusalReason = keyof typeof REFUSAL_REASONS;

export interface Refusal {
  readonly ok: false;
  readonly reason: RefusalReason;
  readonly detail: string;
}

/** Traffic that reaches any pixel (favicons, CDN revalidation, probes): logged at INFO, not as a warning. */
const ROUTINE_REFUSALS: ReadonlySet<RefusalReason> = new Set(["cdn_subrequest", "other_path", "method_not_counted", "status_not_counted"]);

export function isRoutineRefusal(reason: RefusalReason): boolean {
  return ROUTINE_REFUSALS.has(reason);
}

const DETAIL_PREVIEW = 120;

export function refuse(reason: RefusalReason, detail: string): Refusal {
  return { ok: false, reason, detail };
}

/** Hostile input is echoed in details only as a short JSON preview. */
export function preview(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > DETAIL_PREVIEW ? `${json.slice(0, DETAIL_PREVIEW)}…` : json;
}
