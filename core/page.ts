import { cleanText } from "./values";

/** The page that showed the pixel, as its Referer names it. */
export interface Page {
  readonly host: string | null;
  readonly path: string | null;
  /** The page URL's query, where campaign parameters may be; never stored as such. */
  readonly query: URLSearchParams | undefined;
}

const NO_PAGE: Page = { host: null, path: null, query: undefined };
const WEB_PAGE = new Set(["http:", "https:"]);

/**
 * The host and path of the page in the Referer header, without its query string or fragment;
 * unknown (NULL) when there is no Referer or it is not the URL of a web page. The path keeps the
 * percent-encoding the browser sent, so it is unambiguous, and is cut to maxValueLength.
 */
export function pageOf(referer: string | null, maxLength: number): Page {
  if (!referer) return NO_PAGE;
  let url: URL;
  try {
    url = new URL(referer);
  } catch {
    return NO_PAGE;
  }
  if (!WEB_PAGE.has(url.protocol) || url.hostname === "") return NO_PAGE;
  return { host: cleanText(url.hostname, maxLength), path: cleanText(url.pathname, maxLength), query: url.searchParams };
}
