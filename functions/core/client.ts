import { isbot } from "isbot";

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
}

/**
 * Flags crawlers, monitors and scripts with the maintained `isbot` patterns, and requests with no
 * user agent at all, which browsers always send. Rows are flagged, never dropped.
 */
export function classifyClient(userAgent: string | null): ClientKind {
  if (userAgent === null) return { isBot: true, emailProxy: null };
  const emailProxy = EMAIL_IMAGE_PROXIES.find((proxy) => proxy.userAgent.test(userAgent))?.name ?? null;
  return { isBot: emailProxy === null && isbot(userAgent), emailProxy };
}
