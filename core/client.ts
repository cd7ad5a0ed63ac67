import { isbot } from "isbot";
import { describeDevice } from "./device";
import type { Device } from "./device";

/**
 * E-mail clients that fetch images through their own proxies. Their requests are real opens
 * (Gmail, Yahoo) or machine prefetches on delivery (Apple Mail Privacy Protection), so they are
 * named rather than counted as bots. Apple's proxy is recognised by its bare "Mozilla/5.0" user
 * agent, as widely reported by e-mail senders; Apple does not document it.
 */
const EMAIL_IMAGE_PROXIES: readonly { name: string; userAgent: RegExp }[] = [
  { name: "gmail", userAgent: /GoogleImageProxy/ },
  { name: "yahoo", userAgent: /YahooMailProxy/ },
  { name: "apple_mail_privacy", userAgent: /^Mozilla\/5\.0$/ },
];

export interface ClientKind {
  readonly isBot: boolean;
  readonly emailProxy: string | null;
  readonly device: Device;
}

/**
 * Flags crawlers, monitors and scripts with the maintained `isbot` patterns, and requests with no
 * user agent at all, which browsers always send, and names the device. Rows are flagged, never
 * dropped.
 */
export function classifyClient(userAgent: string | null): ClientKind {
  if (userAgent === null) return NO_USER_AGENT;
  let kind = recentlySeen.get(userAgent);
  if (kind === undefined) {
    const emailProxy = EMAIL_IMAGE_PROXIES.find((proxy) => proxy.userAgent.test(userAgent))?.name ?? null;
    kind = { isBot: emailProxy === null && isbot(userAgent), emailProxy, device: describeDevice(userAgent) };
    if (recentlySeen.size >= USER_AGENT_CACHE_LIMIT) recentlySeen.clear();
    recentlySeen.set(userAgent, kind);
  }
  return kind;
}

const NO_USER_AGENT: ClientKind = { isBot: true, emailProxy: null, device: describeDevice(null) };

/**
 * isbot's pattern and the device parse are the most expensive steps per event, and a site's
 * traffic repeats a small set of user agents, so answers are kept per instance. The bound keeps
 * hostile variety from growing it.
 */
export const USER_AGENT_CACHE_LIMIT = 4096;
const recentlySeen = new Map<string, ClientKind>();
