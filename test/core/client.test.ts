import { classifyClient } from "../../core/client";
import { logEntryToEvent } from "../../core/event";
import { DEV_SETTINGS, loadBalancerEntry } from "../../testkit/logEntries";

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
    expect(classifyClient(userAgent)).toMatchObject({ isBot, emailProxy });
    const result = logEntryToEvent(loadBalancerEntry({ httpRequest: { userAgent: userAgent ?? undefined } }), DEV_SETTINGS);
    expect(result).toMatchObject({ ok: true, row: { is_bot: isBot, email_proxy: emailProxy } });
  });
});
