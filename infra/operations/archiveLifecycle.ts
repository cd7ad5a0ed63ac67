import type { ArchiveSettings } from "../../core/config/operations";

/** Archived logs are read only to replay them: Coldline stores them for a fifth of Standard's price. */
export const ARCHIVE_COLD_STORAGE_CLASS = "COLDLINE";

export interface LifecycleRule {
  readonly action: { readonly type: "SetStorageClass" | "Delete"; readonly storageClass?: string };
  readonly condition: { readonly age: number; readonly matchesStorageClasses?: string[] };
}

/**
 * The archive bucket's lifecycle: objects move to Coldline after `coldAfterDays` and, when
 * configured, are deleted after `deleteAfterDays` (both counted from when the sink wrote them).
 */
export function archiveLifecycleRules(settings: ArchiveSettings): LifecycleRule[] {
  return [
    {
      action: { type: "SetStorageClass", storageClass: ARCHIVE_COLD_STORAGE_CLASS },
      // Only from Standard: a rule may not move an object to the class it already has.
      condition: { age: settings.coldAfterDays, matchesStorageClasses: ["STANDARD"] },
    },
    ...(settings.deleteAfterDays === undefined ? [] : [{ action: { type: "Delete" as const }, condition: { age: settings.deleteAfterDays } }]),
  ];
}
