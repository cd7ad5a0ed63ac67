import Bowser from "bowser";
import type { DeviceType } from "./schema";

/** The browser family and major version, the operating system and the kind of device a user agent names. */
export interface Device {
  readonly browser: string | null;
  /** The major version as text, "120", as reports group by it. */
  readonly browserVersion: string | null;
  readonly os: string | null;
  readonly deviceType: DeviceType;
}

/** Real user agents are a few hundred characters; the parser's patterns need no more, and a huge one costs time. */
const MAX_USER_AGENT_LENGTH = 512;
const MAJOR_VERSION = /^\d+/;
/**
 * The families bowser knows. For any other user agent it names its first product token, which is
 * whatever the client sent ("python-requests", or garbage), so that is no family: unknown.
 */
const KNOWN_BROWSERS: ReadonlySet<string> = new Set(Object.values(Bowser.BROWSER_MAP));
/** Bowser's long names for the families that reports know by a short one. */
const BROWSER_NAMES: ReadonlyMap<string, string> = new Map([
  ["Microsoft Edge", "Edge"],
  ["Samsung Internet for Android", "Samsung Internet"],
]);

const UNKNOWN_DEVICE: Device = { browser: null, browserVersion: null, os: null, deviceType: "other" };

/**
 * The device a user agent describes, by bowser (MIT), or unknown (NULLs and "other"). Crawlers,
 * TVs and consoles are "other". An iPad asking for the desktop site sends a Mac's user agent, so
 * it counts as a desktop: no parser can tell them apart from the user agent alone.
 */
export function describeDevice(userAgent: string | null): Device {
  // Bowser throws on an empty user agent.
  if (!userAgent) return UNKNOWN_DEVICE;
  let parsed: Bowser.Parser.ParsedResult;
  try {
    parsed = Bowser.parse(userAgent.slice(0, MAX_USER_AGENT_LENGTH));
  } catch {
    return UNKNOWN_DEVICE;
  }
  const name = parsed.browser.name;
  const known = name !== undefined && KNOWN_BROWSERS.has(name);
  const type = parsed.platform.type;
  return {
    browser: known ? (BROWSER_NAMES.get(name) ?? name) : null,
    browserVersion: known ? (MAJOR_VERSION.exec(parsed.browser.version ?? "")?.[0] ?? null) : null,
    os: parsed.os.name || null,
    deviceType: type === "desktop" || type === "mobile" || type === "tablet" ? type : "other",
  };
}
