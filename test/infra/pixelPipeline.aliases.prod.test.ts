import { deployedStack, updateOf } from "../../testkit/pulumiProgram";

test("a stack with every optional feature on, deployed before PixelPipeline, updates in place: every resource kept or reached through an alias", async () => {
  const deployed = deployedStack("prod");
  const { deleted, claimedTwice, created } = await updateOf(deployed);
  expect(deployed.urns.length).toBeGreaterThan(60);
  expect(deleted).toEqual([]);
  expect(claimedTwice).toEqual([]);
  // New resources are fine (the component that now holds the others, and what later changes add); none replaces an old one.
  expect(created).toContain("urn:pulumi:prod::pixel-pipeline::pixel:infra:PixelPipeline::pixel");
});
