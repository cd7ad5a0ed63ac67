/**
 * What the function's build account may touch. Google documents three project roles for it
 * (https://cloud.google.com/run/docs/configuring/services/build-service-account). Granted
 * project-wide, Storage Object Admin would let a build read, overwrite and delete every object in
 * the project: the raw archive with its full client IPs, and pixel.png. Cloud Functions copies the
 * source into its own `gcf-v2-sources-<project number>-<region>` bucket and the build reads it from
 * there, so the storage role is held only on buckets with that prefix, through an IAM condition.
 */
export const BUILD_PROJECT_ROLES = ["roles/logging.logWriter", "roles/artifactregistry.writer"] as const;

export const BUILD_STORAGE_ROLE = "roles/storage.objectAdmin";

/** Cloud Storage names buckets `projects/_/buckets/<bucket>` and objects `…/objects/<object>` in conditions. */
export const BUILD_SOURCE_BUCKETS = "projects/_/buckets/gcf-v2-sources-";

export const BUILD_STORAGE_CONDITION = {
  title: "Cloud Functions source buckets only",
  description: "The build reads the function's source from gcf-v2-sources-*; no other bucket, such as the raw archive or the pixel, is reachable.",
  expression: `resource.name.startsWith("${BUILD_SOURCE_BUCKETS}")`,
} as const;
