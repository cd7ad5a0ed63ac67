import type { CoreSettings } from "../../core/config/coreSettings";
import { withSigningKeys } from "../../core/config/coreSettings";
import { cloudDelivery } from "../../core/delivery";
import type { Decision, LogLine } from "../../core/delivery";
import type { AcceptedEvent } from "../../core/event";
import type { PubSubMessage } from "../../core/message";
import { REFUSAL_REASONS } from "../../core/refusals";
import type { RefusalReason } from "../../core/refusals";
import { handlePixelMessage, RowRejectedError } from "../../functions/handler";
import type { Handled } from "../../functions/handler";
import { DEV_SETTINGS, loadBalancerEntry, pixelUrl, pubSubMessage } from "../../testkit/logEntries";

/** Runs the handler as the function does, with a writer that stores in memory and a logger that keeps its lines. */
async function handle(message: PubSubMessage | undefined, settings: CoreSettings = DEV_SETTINGS): Promise<{ handled: Handled; inserted: AcceptedEvent[]; lines: LogLine[] }> {
  const inserted: AcceptedEvent[] = [];
  const lines: LogLine[] = [];
  const writer = { insert: async (event: AcceptedEvent) => void inserted.push(event) };
  const handled = await handlePixelMessage(message, { settings, writer, log: (line) => lines.push(line), policy: cloudDelivery(5) });
  return { handled, inserted, lines };
}

const base64 = (text: string) => Buffer.from(text).toString("base64");

describe.each<[string, PubSubMessage | undefined]>([
  ["no message at all", undefined],
  ["a message without data", { messageId: "m1" }],
  ["a message with empty data", { data: "", messageId: "m1" }],
  ["data that decodes to JSON null", { data: base64("null"), messageId: "m1" }],
  ["data that is not a string", { data: 42, messageId: "m1" }],
  ["data that is not JSON", { data: base64("<html>"), messageId: "m1" }],
  ["data that is a JSON array", { data: base64("[{}]"), messageId: "m1" }],
])("%s", (_, message) => {
  it("is refused as invalid_message and acked, without a write and without throwing", async () => {
    const { handled, inserted, lines } = await handle(message);
    expect(handled).toMatchObject({ decision: "ack", outcome: { kind: "refused", refusal: { ok: false, reason: "invalid_message" } } });
    expect(inserted).toEqual([]);
    expect(lines).toEqual([expect.objectContaining({ severity: "WARNING", reason: "invalid_message" })]);
  });
});

const signed = () => withSigningKeys({ ...DEV_SETTINGS, signedUrls: true }, { PIXEL_SIGNING_KEYS: "k3y-0123456789-abcdef" });
const allowlisted = () => ({ ...DEV_SETTINGS, tenantAllowlist: ["acme"] });

/*
 * Traffic that reaches any pixel (favicons, probes, CDN revalidation, 404s) would drown real
 * problems at WARNING, so it is logged at INFO; every other refusal is worth a look and is a
 * WARNING. One row per reason, so a new reason gets a severity on purpose.
 */
const SEVERITIES: [RefusalReason, "INFO" | "WARNING", Record<string, unknown>, (() => CoreSettings)?][] = [
  ["other_path", "INFO", { httpRequest: { requestUrl: "https://track.example.com/favicon.ico" } }],
  ["method_not_counted", "INFO", { httpRequest: { requestMethod: "HEAD" } }],
  ["status_not_counted", "INFO", { httpRequest: { status: 404 } }],
  ["cdn_subrequest", "INFO", { jsonPayload: { parentInsertId: "1oek5rg3l3fxj6" } }],
  ["not_load_balancer", "WARNING", { resource: { type: "gce_instance" } }],
  ["missing_http_request", "WARNING", { httpRequest: undefined }],
  ["invalid_url", "WARNING", { httpRequest: { requestUrl: "not a url" } }],
  ["invalid_entry", "WARNING", { insertId: "" }],
  ["missing_signature", "WARNING", {}, signed],
  ["invalid_signature", "WARNING", { httpRequest: { requestUrl: pixelUrl("user_id=acme&sig=forged") } }, signed],
  ["missing_tenant", "WARNING", { httpRequest: { requestUrl: pixelUrl("type=click") } }],
  ["ambiguous_tenant", "WARNING", { httpRequest: { requestUrl: pixelUrl("user_id=acme&user_id=victim") } }],
  ["invalid_tenant", "WARNING", { httpRequest: { requestUrl: pixelUrl(`user_id=${"a".repeat(65)}`) } }],
  ["tenant_not_allowed", "WARNING", { httpRequest: { requestUrl: pixelUrl("user_id=intruder") } }, allowlisted],
];

describe.each(SEVERITIES)("a refusal for %s", (reason, severity, overrides, settingsUnderTest = () => DEV_SETTINGS) => {
  it(`is logged at ${severity}, with the entry's and the message's ids, and acked`, async () => {
    const { handled, lines } = await handle(pubSubMessage(loadBalancerEntry(overrides), "m7"), settingsUnderTest());
    expect(handled.decision).toBe("ack");
    expect(lines).toEqual([{ severity, message: `pixel event refused: ${reason}`, reason, detail: expect.any(String), insertId: expect.anything(), messageId: "m7" }]);
  });
});

test("every refusal reason has its severity pinned: invalid_message by the messages above, the rest in SEVERITIES", () => {
  expect(["invalid_message", ...SEVERITIES.map(([reason]) => reason)].sort()).toEqual(Object.keys(REFUSAL_REASONS).sort());
});

/*
 * A path that counts deliveries hands the handler the attempt, and the policy decides by it: under
 * cloudDelivery(5) a row not stored is retried until the fifth attempt and dead-lettered on it. Without
 * an attempt the handler assumes the first (Pub/Sub's push does not say, and counts by itself).
 */
const WRITE_ERRORS = { failed: () => new Error("socket hang up"), rejected: () => new RowRejectedError("invalid: bad value") };

describe.each<["failed" | "rejected", number | undefined, Decision]>([
  ["failed", undefined, "retry"],
  ["failed", 1, "retry"],
  ["failed", 4, "retry"],
  ["failed", 5, "dead_letter"],
  ["rejected", 1, "retry"],
  ["rejected", 5, "dead_letter"],
])("an insert %s at attempt %p of 5 (undefined: not known)", (kind, attempt, decision) => {
  it(`is ${decision}, and logged so`, async () => {
    const lines: LogLine[] = [];
    const writer = { insert: () => Promise.reject(WRITE_ERRORS[kind]()) };
    const handled = await handlePixelMessage(pubSubMessage(loadBalancerEntry(), "m9"), { settings: DEV_SETTINGS, writer, log: (line) => lines.push(line), policy: cloudDelivery(5), attempt });
    expect(handled).toMatchObject({ outcome: { kind }, decision });
    expect(lines).toEqual([expect.objectContaining({ reason: kind === "failed" ? "write_failed" : "row_rejected", message: expect.stringContaining(decision === "retry" ? "will be retried" : "is dead-lettered"), messageId: "m9" })]);
  });
});
