import { BASE_CONFIG, runProgram } from "../../testkit/pulumiProgram";

test("pulumi preview warns about a stack where anyone can invent tenants, and one that keeps the default retention without choosing it", async () => {
  const { warnings } = await runProgram(BASE_CONFIG);
  expect(warnings).toEqual([
    expect.stringMatching(/^Anyone can invent tenants: with neither pixel-pipeline:tenantAllowlist nor pixel-pipeline:signedUrls set/),
    expect.stringMatching(/^pixel-pipeline:retentionDays is not set, so data is kept 760 days/),
  ]);
  expect(warnings[0]).toContain("at most about 10 tables a second");
});
