import { acceptedEvent, loadBalancerEntry } from "../../testkit/logEntries";

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
    const { row } = acceptedEvent(loadBalancerEntry({ httpRequest: { requestUrl: `${BASE}?user_id=acme&${parameter}` } }));
    expect(row.dnt).toBe(restricted);
    expect(row.remote_ip === null).toBe(restricted);
    expect(row.user_agent === null).toBe(restricted);
    expect(row.is_bot).toBe(false);
  });
});
