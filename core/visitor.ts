import { createHmac, createSecretKey, KeyObject } from "node:crypto";

/** A key shorter than this is refused: it would be guessable. The program generates 32 random bytes, 44 characters of base64. */
export const MIN_VISITOR_KEY_LENGTH = 32;
/** 16 characters of base64url, 96 bits: collisions stay negligible even among millions of visitors of one tenant and day. */
const VISITOR_ID_LENGTH = 16;

/**
 * A daily visitor id: HMAC-SHA256, under the stack's secret key, of the UTC day, the tenant, the
 * full client address and the user agent, as JSON so that no two inputs run together. The same
 * visitor gets the same id within one tenant and day; a new day or another tenant gives an
 * unrelated id, and without the key an id cannot be computed, compared with a guess, or turned
 * back into an address. The README's privacy section says what a leaked key would reveal.
 */
export function visitorId(key: string, utcDay: string, tenant: string, clientAddress: string, userAgent: string | null): string {
  return createHmac("sha256", secretKey(key))
    .update(JSON.stringify([utcDay, tenant, clientAddress, userAgent ?? ""]))
    .digest("base64url")
    .slice(0, VISITOR_ID_LENGTH);
}

/**
 * The key as a KeyObject, made once per key: from text, createHmac prepares a new key on every
 * call, about 15% of the visitor id's cost per event. A process holds one visitor key.
 */
let preparedKey: { readonly text: string; readonly key: KeyObject } | undefined;
function secretKey(text: string): KeyObject {
  if (preparedKey?.text !== text) preparedKey = { text, key: createSecretKey(text, "utf8") };
  return preparedKey.key;
}
