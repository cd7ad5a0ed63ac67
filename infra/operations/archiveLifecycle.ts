import type { ArchiveSettings } from "../../core/config/operations";

/** Archived logs are read only to replay them: Coldline stores them for a fifth of Standard's price. */
export const ARCHIVE_COLD_STORAGE_CLASS = "COLDLINE";

export interface LifecycleRule {
  readonly action: { readonly type: "SetStorageClass" | "Delete"; readonly storageClass?: string };
  readonly condition: { readonly age?: number; readonly daysSinceCustomTime?: number; readonly matchesStorageClasses?: string[] };
}

/**
 * The archive bucket's lifecycle: objects move to Coldline after `coldAfterDays` and, unless the
 * archive is kept for ever, are deleted after `deleteAfterDays`, counted from when the sink wrote
 * them. An erasure rewrites an object, which makes it new again (its age restarts), and sets its
 * customTime to the hour the sink wrote it: the second rule deletes it by that hour, so an erasure
 * never keeps entries longer. The rules are alternatives: either one deletes.
 */
export function archiveLifecycleRules(settings: ArchiveSettings): LifecycleRule[] {
  return [
    {
      action: { type: "SetStorageClass", storageClass: ARCHIVE_COLD_STORAGE_CLASS },
      // Only from Standard: a rule may not move an object to the class it already has.
      condition: { age: settings.coldAfterDays, matchesStorageClasses: ["STANDARD"] },
    },
    ...(settings.deleteAfterDays === undefined
      ? []
      : [
          { action: { type: "Delete" as const }, condition: { age: settings.deleteAfterDays } },
          { action: { type: "Delete" as const }, condition: { daysSinceCustomTime: settings.deleteAfterDays } },
        ]),
  ];
}

const DAY_SECONDS = 24 * 60 * 60;

/**
 * How long a deleted or overwritten object stays recoverable: what an erasure rewrote or the
 * lifecycle deleted outlives it by this long (docs/privacy.md). Set on every bucket, so the
 * stack's value replaces whatever default the bucket was created with.
 */
export function archiveSoftDeletePolicy(settings: ArchiveSettings): { retentionDurationSeconds: number } {
  return { retentionDurationSeconds: settings.softDeleteDays * DAY_SECONDS };
}
