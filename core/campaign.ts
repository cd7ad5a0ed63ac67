import { CAMPAIGN_PARAMETERS } from "./schema";
import { cleanText } from "./values";

export type CampaignParameter = (typeof CAMPAIGN_PARAMETERS)[number];
export type Campaign = Readonly<Record<CampaignParameter, string | null>>;

export const NO_CAMPAIGN: Campaign = Object.fromEntries(CAMPAIGN_PARAMETERS.map((name) => [name, null])) as Campaign;

/**
 * The campaign of an event: from the pixel URL when it carries any utm_ parameter, otherwise from
 * the page's query (the Referer's), so the five values always come from one place and never mix
 * two campaigns. Decoded and cut like STRING attributes: percent-decoded, `+` as a space, a
 * repeated key keeps its first value, at most maxValueLength characters; absent is NULL.
 */
export function campaignOf(pixelQuery: URLSearchParams, pageQuery: URLSearchParams | undefined, maxLength: number): Campaign {
  const carriesCampaign = (query: URLSearchParams) => CAMPAIGN_PARAMETERS.some((name) => query.has(name));
  const query = carriesCampaign(pixelQuery) ? pixelQuery : pageQuery && carriesCampaign(pageQuery) ? pageQuery : undefined;
  if (!query) return NO_CAMPAIGN;
  return Object.fromEntries(
    CAMPAIGN_PARAMETERS.map((name) => {
      const value = query.get(name);
      return [name, value === null ? null : cleanText(value, maxLength)];
    }),
  ) as Campaign;
}
