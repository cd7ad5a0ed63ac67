import type { EdgeSecuritySettings } from "../../core/config/operations";

/** Cloud Armor's limits: 10 ranges in a basic match, 5 subexpressions in an advanced one. */
const RANGES_PER_RULE = 10;
const REGIONS_PER_RULE = 5;
const FIRST_IP_RULE = 1000;
const FIRST_REGION_RULE = 2000;
/** The priority Cloud Armor reserves for a policy's default rule. */
export const DEFAULT_RULE_PRIORITY = 2147483647;
/** A denied pixel request is logged with status 403, which the function refuses as status_not_counted. */
export const DENY_ACTION = "deny(403)";

export interface EdgeRule {
  readonly priority: number;
  readonly action: string;
  readonly description: string;
  readonly match: { readonly versionedExpr: "SRC_IPS_V1"; readonly config: { readonly srcIpRanges: string[] } } | { readonly expr: { readonly expression: string } };
}

/**
 * The rules of the edge security policy: deny the listed IP ranges and regions, serve everyone
 * else. Edge policies can only allow or deny, so there is no rate-limit rule (docs/operations.md).
 */
export function edgePolicyRules(settings: EdgeSecuritySettings): EdgeRule[] {
  const ipRules = chunks(settings.deniedIpRanges, RANGES_PER_RULE).map(
    (ranges, index): EdgeRule => ({
      priority: FIRST_IP_RULE + index,
      action: DENY_ACTION,
      description: "denied IP ranges (edgeDeniedIpRanges)",
      match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ranges } },
    }),
  );
  const regionRules = chunks(settings.deniedRegions, REGIONS_PER_RULE).map(
    (regions, index): EdgeRule => ({
      priority: FIRST_REGION_RULE + index,
      action: DENY_ACTION,
      description: "denied regions (edgeDeniedRegions)",
      // Region codes are validated as two capital letters, so they are safe inside the quotes.
      match: { expr: { expression: regions.map((region) => `origin.region_code == '${region}'`).join(" || ") } },
    }),
  );
  const defaultRule: EdgeRule = {
    priority: DEFAULT_RULE_PRIORITY,
    action: "allow",
    description: "default: serve the pixel",
    match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } },
  };
  return [...ipRules, ...regionRules, defaultRule];
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, index) => items.slice(index * size, (index + 1) * size));
}
