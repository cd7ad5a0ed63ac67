import fc from "fast-check";
import { logEntryToEvent } from "../../core/event";
import { serializeCoreSettings, withSigningKeys } from "../../core/config/coreSettings";
import type { CoreSettings } from "../../core/config/coreSettings";
import { canonicalQuery, checkSignature, pixelUrl, signQuery } from "../../core/signature";
import { DEV_SETTINGS, loadBalancerEntry } from "../../testkit/logEntries";

const KEY = "k3y-0123456789-abcdef";
const OLD_KEY = "old-0123456789-abcdef";
let SIGNED: CoreSettings;
beforeAll(() => {
  SIGNED = withSigningKeys({ ...DEV_SETTINGS, signedUrls: true }, { PIXEL_SIGNING_KEYS: `${KEY}\n${OLD_KEY}` });
});
const BASE = "https://track.example.com/pixel.png";

function outcome(url: string, settings: CoreSettings = SIGNED) {
  const result = logEntryToEvent(loadBalancerEntry({ httpRequest: { requestUrl: url } }), settings);
  return result.ok ? "accepted" : result.reason;
}

describe("signed pixel URLs", () => {
  // Each URL is made inside its test: signing is the code under test.
  it.each<[string, () => string, string]>([
    ["signed with the current key", () => pixelUrl(BASE, { user_id: "acme", type: "click" }, KEY), "accepted"],
    ["signed with the previous key, during a rotation", () => pixelUrl(BASE, { user_id: "acme", type: "click" }, OLD_KEY), "accepted"],
    ["parameters reordered and re-encoded", () => `${BASE}?user_id=acme&type=add+to%20cart&sig=${new URL(pixelUrl(BASE, { type: "add to cart", user_id: "acme" }, KEY)).searchParams.get("sig")}`, "accepted"],
    ["no signature", () => `${BASE}?user_id=acme&type=click`, "missing_signature"],
    ["signed with an unknown key", () => pixelUrl(BASE, { user_id: "acme" }, "someone-else-0123456789"), "invalid_signature"],
    ["tenant swapped after signing", () => pixelUrl(BASE, { user_id: "acme" }, KEY).replace("user_id=acme", "user_id=victim"), "invalid_signature"],
    ["a parameter appended after signing", () => `${pixelUrl(BASE, { user_id: "acme" }, KEY)}&type=forged`, "invalid_signature"],
    ["two signatures", () => `${pixelUrl(BASE, { user_id: "acme" }, KEY)}&sig=x`, "invalid_signature"],
    // An HMAC-SHA256 in base64url is 43 characters; timingSafeEqual throws on buffers of different lengths, so these must be refused before it.
    ["a signature of the wrong length", () => `${BASE}?user_id=acme&sig=c2hvcnQ`, "invalid_signature"],
    ["an empty signature", () => `${BASE}?user_id=acme&sig=`, "invalid_signature"],
    ["a signature of 43 characters but 44 bytes", () => pixelUrl(BASE, { user_id: "acme" }, KEY).replace(/.$/, "%C3%A9"), "invalid_signature"],
  ])("%s", (_name, url, expected) => {
    expect(outcome(url())).toBe(expected);
  });

  it("is not required when signedUrls is off", () => {
    expect(outcome(`${BASE}?user_id=acme`, DEV_SETTINGS)).toBe("accepted");
  });

  it("verifies any parameters a signer can produce", () => {
    const parameters = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((key) => key !== "sig"), fc.string({ maxLength: 20 }), { maxKeys: 6 });
    fc.assert(
      fc.property(parameters, (params) => {
        const url = new URL(pixelUrl(BASE, params, KEY));
        expect(checkSignature(url.searchParams, [KEY])).toBe("valid");
        expect(checkSignature(url.searchParams, [OLD_KEY])).toBe("invalid");
      }),
      { numRuns: 500 },
    );
  });

  it("canonicalises by sorting keys, then values, after strict encoding", () => {
    expect(canonicalQuery([["b", "2"], ["a", "x y"], ["a", "!"], ["sig", "ignored"]])).toBe("a=%21&a=x%20y&b=2");
  });

  /*
   * What another signer must reproduce byte for byte, written out by hand: keys sorted by code unit
   * (so "Z" before "a"), a repeated key's values sorted, sig left out, and RFC 3986 encoding with
   * upper-case hex for the characters encodeURIComponent leaves alone (* is %2A, never %2a or *).
   * The signature is HMAC-SHA256 of that text in base64url without padding, from
   * `printf '%s' '<canonical>' | openssl dgst -sha256 -hmac '<key>' -binary | base64 | tr '+/' '-_' | tr -d =`.
   */
  const PARAMETERS: [string, string][] = [["user_id", "acme"], ["type", "b"], ["type", "a"], ["a b", "*"], ["Z", "!'()"], ["sig", "x"]];
  const CANONICAL = "Z=%21%27%28%29&a%20b=%2A&type=a&type=b&user_id=acme";
  const SIGNATURE = "r5Z7ZiclJCQ-vs4GE_6frSL2avny6xpcj2NGJ6_sDh8";

  it("writes the canonical query another signer writes", () => {
    expect(canonicalQuery(PARAMETERS)).toBe(CANONICAL);
  });

  it("signs it with the HMAC another signer computes", () => {
    expect(signQuery(CANONICAL, KEY)).toBe(SIGNATURE);
  });

  it("accepts that signature on the URL as a browser sends it, in any order and encoding", () => {
    expect(outcome(`${BASE}?user_id=acme&type=b&Z=!'()&a+b=*&type=a&sig=${SIGNATURE}`)).toBe("accepted");
    expect(outcome(`${BASE}?type=a&a%20b=%2a&Z=%21%27%28%29&user_id=acme&type=b&sig=${SIGNATURE}`)).toBe("accepted");
    expect(outcome(`${BASE}?user_id=acme&type=b&Z=!'()&a+b=*&type=c&sig=${SIGNATURE}`)).toBe("invalid_signature");
  });

  it("takes a key of exactly 16 characters, and accepts the URLs it signs", () => {
    const minimal = "0123456789abcdef";
    const settings = withSigningKeys({ ...DEV_SETTINGS, signedUrls: true }, { PIXEL_SIGNING_KEYS: minimal });
    expect(settings.signingKeys).toEqual([minimal]);
    expect(outcome(pixelUrl(BASE, { user_id: "acme" }, minimal), settings)).toBe("accepted");
  });

  it("keeps the keys out of the function's plain environment", () => {
    expect(serializeCoreSettings(SIGNED)).not.toContain(KEY);
    expect(JSON.parse(serializeCoreSettings(SIGNED))).toMatchObject({ signedUrls: true });
  });

  it.each([
    [{}, "PIXEL_SIGNING_KEYS is empty"],
    [{ PIXEL_SIGNING_KEYS: "short" }, "at least 16 characters"],
    [{ PIXEL_SIGNING_KEYS: "0123456789abcde" }, "at least 16 characters"],
    // During a rotation every key must be usable: a short one stops the start, it is not skipped.
    [{ PIXEL_SIGNING_KEYS: `${KEY}\nshort` }, "at least 16 characters"],
  ])("fails at start-up when signedUrls is on and the keys are %p", (environment, message) => {
    expect(() => withSigningKeys({ ...DEV_SETTINGS, signedUrls: true }, environment)).toThrow(message);
  });
});
