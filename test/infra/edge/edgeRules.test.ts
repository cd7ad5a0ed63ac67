import { DEFAULT_RULE_PRIORITY, edgePolicyRules } from "../../../infra/edge/edgeRules";

describe("edge policy rules", () => {
  test.each([
    [[], [], 0, 0],
    [["203.0.113.0/24"], [], 1, 0],
    [Array.from({ length: 10 }, (_, i) => `10.0.${i}.0/24`), [], 1, 0],
    [Array.from({ length: 11 }, (_, i) => `10.0.${i}.0/24`), ["FR", "DE", "IT", "ES", "PT", "NL"], 2, 2],
  ])("%p ranges and %p regions give %p IP rules and %p region rules, then the default", (ranges, regions, ipRules, regionRules) => {
    const rules = edgePolicyRules({ deniedIpRanges: ranges, deniedRegions: regions });
    expect(rules).toHaveLength(ipRules + regionRules + 1);
    // Every listed range is denied exactly once, in rules of at most 10.
    const denied = rules.flatMap((rule) => ("config" in rule.match && rule.action === "deny(403)" ? rule.match.config.srcIpRanges : []));
    expect(denied).toEqual(ranges);
    expect(rules.every((rule) => !("config" in rule.match) || rule.match.config.srcIpRanges.length <= 10)).toBe(true);
    expect(new Set(rules.map((rule) => rule.priority)).size).toBe(rules.length);
  });

  test("regions become advanced expressions of at most five subexpressions", () => {
    const rules = edgePolicyRules({ deniedIpRanges: [], deniedRegions: ["FR", "DE", "IT", "ES", "PT", "NL"] });
    expect(rules.slice(0, 2).map((rule) => rule.match)).toEqual([
      { expr: { expression: "origin.region_code == 'FR' || origin.region_code == 'DE' || origin.region_code == 'IT' || origin.region_code == 'ES' || origin.region_code == 'PT'" } },
      { expr: { expression: "origin.region_code == 'NL'" } },
    ]);
  });

  test("the default rule serves everyone else, and nothing rate-limits (edge policies cannot)", () => {
    const rules = edgePolicyRules({ deniedIpRanges: ["203.0.113.0/24"], deniedRegions: ["FR"] });
    expect(rules.at(-1)).toMatchObject({ priority: DEFAULT_RULE_PRIORITY, action: "allow", match: { versionedExpr: "SRC_IPS_V1", config: { srcIpRanges: ["*"] } } });
    expect(rules.map((rule) => rule.action)).toEqual(["deny(403)", "deny(403)", "allow"]);
  });
});
