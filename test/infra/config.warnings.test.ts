import { BASE_CONFIG, runProgram } from "../../testkit/pulumiProgram";

test("pulumi preview warns about a stack where anyone can invent tenants", async () => {
  const { warnings } = await runProgram(BASE_CONFIG);
  expect(warnings).toEqual([expect.stringMatching(/^Anyone can invent tenants: with neither pixel-pipeline:tenantAllowlist nor pixel-pipeline:signedUrls set/)]);
  expect(warnings[0]).toContain("at most about 10 tables a second");
});
