import { answerColumnsUrns, deployedStack, updateOf } from "../../testkit/pulumiProgram";

test("the dev stack, deployed before PixelPipeline, updates in place: every resource kept or reached through an alias", async () => {
  const deployed = deployedStack("dev");
  const { deleted, claimedTwice, created } = await updateOf(deployed);
  expect(deployed.urns.length).toBeGreaterThan(60);
  expect(deleted).toEqual([]);
  expect(claimedTwice).toEqual([]);
  // New: the component that now holds the others; and the visitor key, its secret and the four breakdown views (issue 14).
  expect([...created].sort()).toEqual(["urn:pulumi:dev::pixel-pipeline::pixel:infra:PixelPipeline::pixel", ...answerColumnsUrns(deployed)].sort());
});
