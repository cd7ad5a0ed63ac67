import { archiveLifecycleRules, archiveSoftDeletePolicy } from "../../../infra/operations/archiveLifecycle";
import type { ArchiveSettings } from "../../../core/config/operations";

const COLD_AFTER_30 = { action: { type: "SetStorageClass", storageClass: "COLDLINE" }, condition: { age: 30, matchesStorageClasses: ["STANDARD"] } };

describe.each<[ArchiveSettings, unknown[]]>([
  [{ coldAfterDays: 30, softDeleteDays: 7 }, [COLD_AFTER_30]],
  [
    { coldAfterDays: 7, deleteAfterDays: 400, softDeleteDays: 7 },
    [
      { action: { type: "SetStorageClass", storageClass: "COLDLINE" }, condition: { age: 7, matchesStorageClasses: ["STANDARD"] } },
      { action: { type: "Delete" }, condition: { age: 400 } },
      { action: { type: "Delete" }, condition: { daysSinceCustomTime: 400 } },
    ],
  ],
  [
    { coldAfterDays: 30, deleteAfterDays: 760, softDeleteDays: 0 },
    [COLD_AFTER_30, { action: { type: "Delete" }, condition: { age: 760 } }, { action: { type: "Delete" }, condition: { daysSinceCustomTime: 760 } }],
  ],
])("archive lifecycle for %p", (settings, rules) => {
  test("moves Standard objects to Coldline, and deletes by age, and by customTime an erasure sets, only when asked", () => expect(archiveLifecycleRules(settings)).toEqual(rules));
});

test("each delete rule has one condition: a rule's conditions must all hold, so the age and the customTime are two rules, either of which deletes", () => {
  for (const rule of archiveLifecycleRules({ coldAfterDays: 30, deleteAfterDays: 760, softDeleteDays: 7 }).filter((rule) => rule.action.type === "Delete")) {
    expect(Object.keys(rule.condition)).toHaveLength(1);
  }
});

describe.each([
  [0, 0],
  [7, 604800],
  [90, 7776000],
])("soft delete for %p days", (days, seconds) => {
  test(`keeps deleted objects ${seconds} seconds`, () => expect(archiveSoftDeletePolicy({ coldAfterDays: 30, softDeleteDays: days })).toEqual({ retentionDurationSeconds: seconds }));
});
