import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { archiveLifecycleRules, archiveSoftDeletePolicy } from "./archiveLifecycle";
import type { ArchiveSettings } from "../../core/config/operations";

export interface RawArchiveArgs {
  readonly location: string;
  /** The same filter as the Pub/Sub sink, so the archive holds exactly what the pipeline was sent. */
  readonly filter: pulumi.Input<string>;
  readonly settings: ArchiveSettings;
  /** Without deletion protection, `pulumi destroy` also deletes the archived logs. */
  readonly deletionProtection: boolean;
}

/**
 * A second sink that writes the same request logs to a private bucket, in hourly JSON files:
 * whatever a whitelist change, a bug or an outage did to the rows, `npm run replay` can rebuild
 * them from here.
 */
export class RawArchive extends pulumi.ComponentResource {
  public readonly bucketName: pulumi.Output<string>;

  constructor(name: string, args: RawArchiveArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:RawArchive", name, {}, opts);

    // Entries hold full client IPs and user agents, so nobody but the sink and the project's admins may touch them.
    const bucket = new gcp.storage.Bucket(
      `${name}-bucket`,
      {
        location: args.location,
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        lifecycleRules: archiveLifecycleRules(args.settings),
        softDeletePolicy: archiveSoftDeletePolicy(args.settings),
        forceDestroy: !args.deletionProtection,
      },
      { parent: this },
    );
    const sink = new gcp.logging.ProjectSink(
      `${name}-sink`,
      { destination: pulumi.interpolate`storage.googleapis.com/${bucket.name}`, filter: args.filter, uniqueWriterIdentity: true },
      { parent: this },
    );
    // The writer identity is the project's one logging service agent, shared with the Pub/Sub sink
    // (uniqueWriterIdentity is per parent, not per sink). Here it may add objects and nothing else:
    // it can neither read nor overwrite the archive.
    new gcp.storage.BucketIAMMember(
      `${name}-sink-writer`,
      { bucket: bucket.name, role: "roles/storage.objectCreator", member: sink.writerIdentity },
      { parent: this },
    );

    this.bucketName = bucket.name;
    this.registerOutputs({ bucketName: this.bucketName });
  }
}
