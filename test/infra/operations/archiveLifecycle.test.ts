import { archiveLifecycleRules } from "../../../infra/operations/archiveLifecycle";

describe.each([
  [{ coldAfterDays: 30 }, [{ action: { type: "SetStorageClass", storageClass: "COLDLINE" }, condition: { age: 30, matchesStorageClasses: ["STANDARD"] } }]],
  [
    { coldAfterDays: 7, deleteAfterDays: 400 },
    [
      { action: { type: "SetStorageClass", storageClass: "COLDLINE" }, condition: { age: 7, matchesStorageClasses: ["STANDARD"] } },
      { action: { type: "Delete" }, condition: { age: 400 } },
    ],
  ],
])("archive lifecycle for %p", (settings, rules) => {
  test("moves Standard objects to Coldline, and deletes only when asked", () => expect(archiveLifecycleRules(settings)).toEqual(rules));
});
