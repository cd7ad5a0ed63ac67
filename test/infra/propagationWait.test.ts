import { propagationTrigger, waitProvider } from "../../infra/propagationWait";

const diff = (olds: Record<string, unknown>, trigger: string) => waitProvider.diff!("id", olds, { trigger, seconds: 60 });

describe("propagationTrigger", () => {
  it.each([
    ["the order the changes come in", ["b", "a", "c"], ["c", "b", "a"], true],
    ["a change named twice", ["a", "b", "b"], ["a", "b"], true],
    ["one more change", ["a", "b"], ["a", "b", "c"], false],
    ["a change for another", ["a", "b"], ["a", "x"], false],
  ])("%s: same trigger is %s", (_what, first, second, same) => {
    expect(propagationTrigger(first) === propagationTrigger(second)).toBe(same);
  });
});

describe("an update of a wait", () => {
  it("with the same trigger is no change: it does not wait again", async () => {
    expect(await diff({ trigger: "a, b", seconds: 60 }, "a, b")).toEqual({ changes: false, replaces: [] });
  });

  it("with another trigger replaces it: it waits again", async () => {
    expect(await diff({ trigger: "a, b", seconds: 60 }, "a, b, c")).toEqual({ changes: true, replaces: ["trigger"] });
  });

  it("of a wait keyed on the build account alone, as deployed before, waits once more", async () => {
    expect(await diff({ member: "serviceAccount:pixel-dev-build@p.iam.gserviceaccount.com", seconds: 60 }, "a, b")).toEqual({ changes: true, replaces: ["trigger"] });
  });
});
