import { signedUrl } from "../../cli/sign";
import { withSigningKeys } from "../../core/config/coreSettings";
import { logEntryToEvent } from "../../core/event";
import { pixelUrl } from "../../core/signature";
import { DEV_SETTINGS, loadBalancerEntry } from "../../testkit/logEntries";
import { runScript } from "../../testkit/runScript";

const KEY = "k3y-0123456789-abcdef";
const OLD_KEY = "old-0123456789-abcdef";
const BASE = "https://track.example.com/pixel.png";
const LOCAL_PIXEL = "http://127.0.0.1:8080/pixel.png";

describe("npm run sign", () => {
  it("prints a URL the pipeline accepts", () => {
    const signed = withSigningKeys({ ...DEV_SETTINGS, signedUrls: true }, { PIXEL_SIGNING_KEYS: `${KEY}\n${OLD_KEY}` });
    const url = signedUrl(BASE, [`key=${KEY}`, "user_id=acme", "type=click"], {});
    expect(logEntryToEvent(loadBalancerEntry({ httpRequest: { requestUrl: url } }), signed).ok).toBe(true);
    expect(signedUrl(LOCAL_PIXEL, ["user_id=acme"], { PIXEL_SIGNING_KEYS: `${KEY},${OLD_KEY}` })).toBe(pixelUrl(LOCAL_PIXEL, { user_id: "acme" }, KEY));
    expect(() => signedUrl(LOCAL_PIXEL, ["user_id=acme"], {})).toThrow("no signing key");
  });

  it("runs as a command", async () => {
    const result = await runScript("cli/sign.ts", [`key=${KEY}`, "user_id=acme"]);
    expect(result.stdout.trim()).toBe(pixelUrl(LOCAL_PIXEL, { user_id: "acme" }, KEY));
  });
});

test.each([
  [["user_id=acme"], {}, /no signing key/],
  [["key=short-key", "user_id=acme"], {}, /has 9 characters and needs at least 16/],
  [["user_id=acme"], { PIXEL_SIGNING_KEYS: "short-key" }, /needs at least 16/],
  [["user_id"], { PIXEL_SIGNING_KEYS: KEY }, /"user_id" is not name=value/],
])("npm run sign refuses %p with %p", (argv, environment, message) => {
  expect(() => signedUrl(LOCAL_PIXEL, argv, environment)).toThrow(message);
});

test("a key of exactly the minimum length signs", () => {
  expect(signedUrl(LOCAL_PIXEL, ["key=0123456789abcdef", "user_id=acme"], {})).toBe(pixelUrl(LOCAL_PIXEL, { user_id: "acme" }, "0123456789abcdef"));
});
