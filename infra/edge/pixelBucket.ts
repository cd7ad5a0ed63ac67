import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { PIXEL_FILE } from "../../assets/pixel";


/** Cloud CDN keeps the pixel a day; browsers are held to revalidating by the CDN's clientTtl. */
export const PIXEL_CACHE_CONTROL = "public, max-age=86400";

export interface PixelBucketArgs {
  readonly location: string;
  /** The request path of the pixel, e.g. "/pixel.png"; the object is stored under it. */
  readonly pixelPath: string;
}

/** A bucket of its own holding only pixel.png, which anyone may read but nobody may list. */
export class PixelBucket extends pulumi.ComponentResource {
  public readonly bucketName: pulumi.Output<string>;

  constructor(name: string, args: PixelBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:PixelBucket", name, {}, opts);

    // CDN cache fills are anonymous, so the bucket must allow public access ("inherited").
    const bucket = new gcp.storage.Bucket(
      `${name}-bucket`,
      { location: args.location, uniformBucketLevelAccess: true, publicAccessPrevention: "inherited" },
      { parent: this },
    );
    new gcp.storage.BucketObject(
      `${name}-png`,
      {
        bucket: bucket.name,
        name: args.pixelPath.slice(1),
        source: new pulumi.asset.FileAsset(PIXEL_FILE),
        contentType: "image/png",
        cacheControl: PIXEL_CACHE_CONTROL,
      },
      { parent: this },
    );
    // legacyObjectReader grants objects.get only; objectViewer would also let anyone list the bucket.
    new gcp.storage.BucketIAMMember(
      `${name}-public-read`,
      { bucket: bucket.name, role: "roles/storage.legacyObjectReader", member: "allUsers" },
      { parent: this },
    );

    this.bucketName = bucket.name;
    this.registerOutputs({ bucketName: this.bucketName });
  }
}
