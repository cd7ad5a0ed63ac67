import { spawnSync } from "node:child_process";
import * as path from "node:path";
import fc from "fast-check";
import { classifyClient } from "../../functions/core/client";
import { logEntryToEvent } from "../../functions/core/event";
import { serializeCoreSettings, withSigningKeys } from "../../functions/core/settings";
import { canonicalQuery, checkSignature, pixelUrl } from "../../functions/core/signature";
import { signCommand } from "../../cli/sign";
import { DEV_SETTINGS, loadBalancerEntry } from "../support/logEntries";

const KEY = "k3y-0123456789-abcdef";
const OLD_KEY = "old-0123456789-abcdef";
const SIGNED = withSigningKeys({ ...DEV_SETTINGS, signedUrls: true }, { PIXEL_SIGNING_KEYS: `${KEY}\n${OLD_KEY}` });
const BASE = "https://track.example.com/pixel.png";

function outcome(url: string, settings = SIGNED) {
  const result = logEntryToEvent(loadBalancerEntry({ httpRequest: { requestUrl: url } }), settings);
  return result.ok ? "accepted" : result.reason;
}

describe("signed pixel URLs", () => {
  it.each([
    ["signed with the current key", pixelUrl(BASE, { user_id: "acme", type: "click" }, KEY), "accepted"],
    ["signed with the previous key, during a rotation", pixelUrl(BASE, { user_id: "acme", type: "click" }, OLD_KEY), "accepted"],
    ["parameters reordered and re-encoded", `${BASE}?user_id=acme&type=add+to%20cart&sig=${new URL(pixelUrl(BASE, { type: "add to cart", user_id: "acme" }, KEY)).searchParams.get("sig")}`, "accepted"],
    ["no signature", `${BASE}?user_id=acme&type=click`, "missing_signature"],
    ["signed with an unknown key", pixelUrl(BASE, { user_id: "acme" }, "someone-else-0123456789"), "invalid_signature"],
    ["tenant swapped after signing", pixelUrl(BASE, { user_id: "acme" }, KEY).replace("user_id=acme", "user_id=victim"), "invalid_signature"],
    ["a parameter appended after signing", `${pixelUrl(BASE, { user_id: "acme" }, KEY)}&type=forged`, "invalid_signature"],
    ["two signatures", `${pixelUrl(BASE, { user_id: "acme" }, KEY)}&sig=x`, "invalid_signature"],
  ])("%s: %s", (_name, url, expected) => {
    expect(outcome(url)).toBe(expected);
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

  it("keeps the keys out of the function's plain environment", () => {
    expect(serializeCoreSettings(SIGNED)).not.toContain(KEY);
    expect(JSON.parse(serializeCoreSettings(SIGNED))).toMatchObject({ signedUrls: true });
  });

  it.each([
    [{}, "PIXEL_SIGNING_KEYS is empty"],
    [{ PIXEL_SIGNING_KEYS: "short" }, "at least 16 characters"],
  ])("fails at start-up when signedUrls is on and the keys are %p", (environment, message) => {
    expect(() => withSigningKeys({ ...DEV_SETTINGS, signedUrls: true }, environment)).toThrow(message);
  });

  it("has a command that prints a URL the pipeline accepts", () => {
    const url = signCommand([`key=${KEY}`, "user_id=acme", "type=click", "--base", BASE], {});
    expect(outcome(url)).toBe("accepted");
    expect(signCommand(["user_id=acme"], { PIXEL_SIGNING_KEYS: `${KEY},${OLD_KEY}` })).toBe(pixelUrl("http://127.0.0.1:8080/pixel.png", { user_id: "acme" }, KEY));
    expect(() => signCommand(["user_id=acme"], {})).toThrow("no signing key");
  });

  it("runs as npm run sign", () => {
    const result = spawnSync(process.execPath, [path.join(__dirname, "../../node_modules/tsx/dist/cli.mjs"), path.join(__dirname, "../../cli/sign.ts"), `key=${KEY}`, "user_id=acme"], { encoding: "utf8", timeout: 60_000 });
    expect(result.stdout.trim()).toBe(pixelUrl("http://127.0.0.1:8080/pixel.png", { user_id: "acme" }, KEY));
  });
});

describe.each<[string, string | null, boolean, string | null]>([
  ["Chrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36", false, null],
  ["Safari on iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", false, null],
  ["Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true, null],
  ["curl", "curl/8.5.0", true, null],
  ["a headless browser", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36", true, null],
  ["no user agent", null, true, null],
  ["Gmail's image proxy", "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", false, "gmail"],
  ["Yahoo's image proxy", "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", false, "yahoo"],
  ["Apple Mail Privacy Protection", "Mozilla/5.0", false, "apple_mail_privacy"],
])("user agent of %s", (_name, userAgent, isBot, emailProxy) => {
  it("is classified, and the row is kept", () => {
    expect(classifyClient(userAgent)).toEqual({ isBot, emailProxy });
    const result = logEntryToEvent(loadBalancerEntry({ httpRequest: { userAgent: userAgent ?? undefined } }), DEV_SETTINGS);
    expect(result).toMatchObject({ ok: true, row: { is_bot: isBot, email_proxy: emailProxy } });
  });
});

describe.each([
  ["dnt=1", true],
  ["dnt", true],
  ["dnt=yes", true],
  ["dnt=0", false],
  ["dnt=false", false],
  ["", false],
])("the privacy parameter %p", (parameter, restricted) => {
  it(restricted ? "stores no IP and no user agent" : "changes nothing", () => {
    const result = logEntryToEvent(loadBalancerEntry({ httpRequest: { requestUrl: `${BASE}?user_id=acme&${parameter}` } }), DEV_SETTINGS);
    expect(result).toMatchObject({ ok: true, row: { dnt: restricted } });
    if (!result.ok) return;
    expect(result.row.remote_ip === null).toBe(restricted);
    expect(result.row.user_agent === null).toBe(restricted);
    expect(result.row.is_bot).toBe(false);
  });
});
