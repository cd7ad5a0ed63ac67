import { logEntryToEvent } from "../../core/event";
import { DEV_SETTINGS, loadBalancerEntry } from "../../testkit/logEntries";

const BASE = "https://track.example.com/pixel.png";

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
