import fc from "fast-check";
import type { CoreSettings } from "../../core/config/coreSettings";
import { logEntryToEvent } from "../../core/event";
import type { LoadBalancerLogEntry } from "../../core/logEntry";
import { withClientAsStored } from "../../core/privacy";
import { loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";
import { settingsFor } from "../../testkit/settings";

// Settings read the country table: built before the tests, not while jest collects the file.
let anonymized: CoreSettings;
let fullIp: CoreSettings;
let unchanged: CoreSettings;
beforeAll(() => {
  anonymized = settingsFor({ anonymizeIp: true, maxValueLength: 16 });
  fullIp = settingsFor({ anonymizeIp: false, maxValueLength: 16 });
  unchanged = settingsFor({ anonymizeIp: false });
});

const AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0";

type Client = { remoteIp?: unknown; userAgent?: unknown; payloadIp?: unknown };

/** An entry with this client: `undefined` leaves the field out, as Logging does. */
function entryWith({ remoteIp, userAgent, payloadIp }: Client, query = "user_id=acme"): LoadBalancerLogEntry {
  return loadBalancerEntry({
    httpRequest: { requestUrl: pixelUrl(query), remoteIp, userAgent },
    ...(payloadIp !== undefined ? { jsonPayload: { remoteIp: payloadIp } } : {}),
  } as Parameters<typeof loadBalancerEntry>[0]);
}

const CLIENT_FIELDS = ["remoteIp", "userAgent"];

function without(object: object | undefined, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object ?? {}).filter(([key]) => !keys.includes(key)));
}

function storedClient(entry: LoadBalancerLogEntry): Client {
  const { remoteIp, userAgent } = entry.httpRequest ?? {};
  return { remoteIp, userAgent, payloadIp: (entry.jsonPayload as { remoteIp?: unknown } | undefined)?.remoteIp };
}

describe.each<[string, Client, string, boolean, Client]>([
  ["an IPv4 address is cut to its /24", { remoteIp: "89.160.20.156:443", userAgent: AGENT }, "", true, { remoteIp: "89.160.20.0", userAgent: "Mozilla/5.0 (X11" }],
  ["an IPv6 address is cut to its /48", { remoteIp: "[2001:db8:abcd:12::7]:443" }, "", true, { remoteIp: "2001:db8:abcd::" }],
  ["without anonymizeIp the address is kept, without its port", { remoteIp: "89.160.20.156:443" }, "", false, { remoteIp: "89.160.20.156" }],
  ["the payload's address is cut as the request's is", { payloadIp: "89.160.20.156" }, "", true, { payloadIp: "89.160.20.0" }],
  ["both addresses are cut when both are there", { remoteIp: "198.51.100.9", payloadIp: "::ffff:198.51.100.9" }, "", true, { remoteIp: "198.51.100.0", payloadIp: "198.51.100.0" }],
  ["dnt drops the addresses and the user agent", { remoteIp: "89.160.20.156", userAgent: AGENT, payloadIp: "89.160.20.156" }, "&dnt=1", false, {}],
  ["dnt=0 is no request not to track", { remoteIp: "89.160.20.156", userAgent: AGENT }, "&dnt=0", true, { remoteIp: "89.160.20.0", userAgent: "Mozilla/5.0 (X11" }],
  // Kept empty, so the request's unreadable address still stands before the payload's.
  ["what is no address is emptied, never kept as it came", { remoteIp: "x89.160.20.156", payloadIp: 42 }, "", false, { remoteIp: "", payloadIp: "" }],
  ["a null address stays out", { remoteIp: null, payloadIp: "89.160.20.156" }, "", true, { payloadIp: "89.160.20.0" }],
  ["a user agent that is no string is dropped", { userAgent: ["Mozilla/5.0"] }, "", true, {}],
  ["a short user agent is kept whole", { userAgent: "curl/8.5.0" }, "", true, { userAgent: "curl/8.5.0" }],
])("%s", (_name, client, extraQuery, anonymizeIp, expected) => {
  it("stores the client as a row would", () => {
    expect(storedClient(withClientAsStored(entryWith(client, `user_id=acme${extraQuery}`), anonymizeIp ? anonymized : fullIp))).toEqual(expected);
  });
});

describe("what is kept beside the rows", () => {
  it("leaves the entry it was given as it was", () => {
    const entry = entryWith({ remoteIp: "89.160.20.156", userAgent: AGENT, payloadIp: "89.160.20.156" });
    const copy = structuredClone(entry);
    withClientAsStored(entry, anonymized);
    expect(entry).toEqual(copy);
  });

  it.each<[string, Record<string, unknown>]>([
    ["no httpRequest", { httpRequest: undefined }],
    ["an httpRequest that is no object", { httpRequest: "GET /pixel.png" }],
    ["a null httpRequest", { httpRequest: null }],
    ["a jsonPayload without remoteIp", {}],
    ["a null jsonPayload", { jsonPayload: null }],
    ["a jsonPayload that is no object", { jsonPayload: "LoadBalancerLogEntry" }],
  ])("keeps an entry with %s as it is", (_name, overrides) => {
    const entry = { ...loadBalancerEntry(), ...overrides } as LoadBalancerLogEntry;
    if ("httpRequest" in overrides && overrides.httpRequest === undefined) delete (entry as { httpRequest?: unknown }).httpRequest;
    expect(withClientAsStored(entry, unchanged)).toEqual(entry);
  });

  it("keeps every other field of the request and the payload", () => {
    const entry = entryWith({ remoteIp: "89.160.20.156", userAgent: AGENT, payloadIp: "89.160.20.156" });
    const stored = withClientAsStored(entry, anonymized);
    expect(without(stored.httpRequest, CLIENT_FIELDS)).toEqual(without(entry.httpRequest, CLIENT_FIELDS));
    expect(without(stored.jsonPayload, CLIENT_FIELDS)).toEqual(without(entry.jsonPayload, CLIENT_FIELDS));
    expect(without(stored, ["httpRequest", "jsonPayload"])).toEqual(without(entry, ["httpRequest", "jsonPayload"]));
  });

  // A dead letter is loaded again from what was kept: only what the full address gives may change,
  // and with dnt, what the user agent gives, as none is kept.
  it("reads to the same row as the entry it came from, but for what the full address and a dnt user agent give", () => {
    const address = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4().map((ip) => `${ip}:443`), fc.ipV6().map((ip) => `[${ip}]:443`), fc.string());
    fc.assert(
      fc.property(
        fc.option(address, { nil: undefined }),
        fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
        fc.option(address, { nil: undefined }),
        fc.boolean(),
        fc.constantFrom("", "&dnt=1", "&dnt=0"),
        (remoteIp, userAgent, payloadIp, anonymizeIp, extraQuery) => {
          const settings = anonymizeIp ? anonymized : fullIp;
          const entry = entryWith({ remoteIp, userAgent, payloadIp }, `user_id=acme&type=view${extraQuery}`);
          const original = logEntryToEvent(entry, settings);
          const stored = logEntryToEvent(withClientAsStored(entry, settings), settings);
          if (!("row" in original) || !("row" in stored)) return expect(stored).toEqual(original);
          const fromAgent = original.row.dnt ? ["is_bot", "email_proxy", "browser", "browser_version", "os", "device_type"] : [];
          expect(stored.row).toMatchObject(without(original.row, ["country", "visitor_id", ...fromAgent]));
        },
      ),
      { numRuns: 500 },
    );
  });
});
