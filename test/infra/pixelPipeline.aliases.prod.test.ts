import { addedSinceDeployed, deployedStack, updateOf } from "../../testkit/pulumiProgram";

test("a stack with every optional feature on, deployed before PixelPipeline, updates in place: every resource kept or reached through an alias", async () => {
  const deployed = deployedStack("prod");
  const { deleted, claimedTwice, created } = await updateOf(deployed);
  expect(deployed.urns.length).toBeGreaterThan(60);
  expect(deleted).toEqual([]);
  expect(claimedTwice).toEqual([]);
  // What it gains is listed, so that nothing else is created in place of an old resource.
  expect([...created].sort()).toEqual(addedSinceDeployed(deployed).sort());
});
