import * as pulumi from "@pulumi/pulumi";
import { BASE_CONFIG, runProgram } from "../../testkit/pulumiProgram";

test("pulumi preview warns about a stack where anyone can invent tenants", async () => {
  const warn = jest.spyOn(pulumi.log, "warn").mockImplementation(async () => undefined);
  await runProgram(BASE_CONFIG, "dev", () => import("../../index"));
  const warnings = warn.mock.calls.map(([message]) => message);
  expect(warnings).toEqual([expect.stringMatching(/^Anyone can invent tenants: with neither pixel-pipeline:tenantAllowlist nor pixel-pipeline:signedUrls set/)]);
  expect(warnings[0]).toContain("at most about 10 tables a second");
});
