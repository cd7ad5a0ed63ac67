// Signed pixel URLs. Dependency-free apart from node:crypto, so a sender can copy this one file.
import { createHmac, timingSafeEqual } from "node:crypto";

/** The query parameter that carries the signature. */
export const SIGNATURE_PARAMETER = "sig";

/** RFC 3986 percent-encoding, so that every signer writes the same bytes. */
function strictEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * All parameters but the signature, each key and value strictly percent-encoded, sorted by key
 * and then value. Signer and verifier compare decoded values, so `+` versus `%20` or the order
 * of parameters in the URL does not matter.
 */
export function canonicalQuery(parameters: Iterable<readonly [string, string]>): string {
  return [...parameters]
    .filter(([key]) => key !== SIGNATURE_PARAMETER)
    .map(([key, value]) => [strictEncode(key), strictEncode(value)] as const)
    .sort(([keyA, valueA], [keyB, valueB]) => (keyA === keyB ? compare(valueA, valueB) : compare(keyA, keyB)))
    .map(([key, value]) => `${key}=${value}`)
    .join("&");
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** HMAC-SHA256 of the canonical query, base64url without padding. */
export function signQuery(canonical: string, key: string): string {
  return createHmac("sha256", key).update(canonical).digest("base64url");
}

/** A signed pixel URL: `pixelUrl("https://t.example.com/pixel.png", {user_id: "acme"}, key)`. */
export function pixelUrl(base: string, parameters: Readonly<Record<string, string | number | boolean>>, key: string): string {
  const canonical = canonicalQuery(Object.entries(parameters).map(([name, value]) => [name, String(value)] as const));
  return `${base}?${canonical}&${SIGNATURE_PARAMETER}=${signQuery(canonical, key)}`;
}

export type SignatureCheck = "valid" | "missing" | "invalid";

/** Checks the URL's signature against every key, so an old and a new key both work during rotation. */
export function checkSignature(query: URLSearchParams, keys: readonly string[]): SignatureCheck {
  const given = query.getAll(SIGNATURE_PARAMETER);
  if (given.length === 0) return "missing";
  if (given.length > 1) return "invalid";
  const canonical = canonicalQuery(query);
  const givenBytes = Buffer.from(given[0]);
  const matches = keys.some((key) => {
    const expected = Buffer.from(signQuery(canonical, key));
    return expected.length === givenBytes.length && timingSafeEqual(expected, givenBytes);
  });
  return matches ? "valid" : "invalid";
}
