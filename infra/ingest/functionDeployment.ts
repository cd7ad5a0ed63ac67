import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import * as random from "@pulumi/random";
import type { SecretPlacement } from "../../core/config/stackConfig";
import { serviceAccountId } from "../naming";
import { PropagationWait, propagationTrigger } from "../propagationWait";
import { BUILD_PROJECT_ROLES, BUILD_STORAGE_CONDITION, BUILD_STORAGE_ROLE } from "./buildAccess";
import type { FunctionBundle } from "./functionBundle";
import { FunctionSecret } from "./functionSecret";

/**
 * What every function of the pipeline is deployed with, whichever tier it serves: the bundle in a
 * private source bucket, a build account with the documented roles, the visitor key (and the
 * signing keys) as secrets, and a wait for the grants to settle. The collector (CollectorFunction)
 * and the batch loader (BatchLoading) declare these inside themselves, named after themselves.
 */

/** How long Google's own example waits for a new build service account's roles to take effect. */
export const IAM_PROPAGATION_SECONDS = 60;

/** A grant: the wait is keyed on its id. */
type Grant = pulumi.CustomResource;

export interface FunctionSourceArgs {
  readonly scope: string;
  readonly project: string;
  readonly region: string;
  readonly bundle: FunctionBundle;
  /** The build account's id suffix (serviceAccountId) and display name. */
  readonly buildAccount: { readonly purpose: string; readonly displayName: string };
}

export interface FunctionSource {
  /** The function's `buildConfig.source`. */
  readonly storageSource: { readonly bucket: pulumi.Output<string>; readonly object: pulumi.Output<string> };
  /** The build account's id, as `buildConfig.serviceAccount` takes it. */
  readonly buildAccountId: pulumi.Output<string>;
  readonly buildGrants: readonly Grant[];
}

/**
 * The bundle, uploaded under its content hash, and the account that builds it. Named by content
 * hash, so a changed bundle is a new object and the function is rebuilt from it. The zip is
 * deterministic and sourceMd5hash is its MD5, so an unchanged bundle is no change: an
 * AssetArchive would be replaced on every update (pulumi/pulumi-gcp#3146).
 */
export function declareFunctionSource(name: string, args: FunctionSourceArgs, parent: pulumi.Resource): FunctionSource {
  const sourceBucket = new gcp.storage.Bucket(`${name}-source`, { location: args.region, uniformBucketLevelAccess: true, publicAccessPrevention: "enforced" }, { parent });
  const sourceArchive = new gcp.storage.BucketObject(
    `${name}-archive`,
    {
      bucket: sourceBucket.name,
      name: `${args.bundle.hash}.zip`,
      source: new pulumi.asset.FileAsset(args.bundle.archivePath),
      sourceMd5hash: args.bundle.archiveMd5,
      contentType: "application/zip",
    },
    { parent },
  );

  // Builds get their own account with the documented roles: new projects would otherwise build as the
  // default compute account, which may lack them or hold far more.
  const buildAccount = new gcp.serviceaccount.Account(
    `${name}-build`,
    { accountId: serviceAccountId(args.scope, args.buildAccount.purpose), displayName: args.buildAccount.displayName },
    { parent },
  );
  const buildGrant = (role: string, condition?: typeof BUILD_STORAGE_CONDITION) =>
    new gcp.projects.IAMMember(`${name}-build-${role.split("/")[1]}`, { project: args.project, role, member: buildAccount.member, condition }, { parent });
  const buildGrants = [
    ...BUILD_PROJECT_ROLES.map((role) => buildGrant(role)),
    buildGrant(BUILD_STORAGE_ROLE, BUILD_STORAGE_CONDITION),
    // Who copies the source out of this bucket is not documented; reading it is all a build could need here.
    new gcp.storage.BucketIAMMember(`${name}-build-source-reader`, { bucket: sourceBucket.name, role: "roles/storage.objectViewer", member: buildAccount.member }, { parent }),
  ];
  return { storageSource: { bucket: sourceBucket.name, object: sourceArchive.name }, buildAccountId: buildAccount.id, buildGrants };
}

export interface FunctionSecretsArgs {
  /** Part of the secrets' ids, which are unique in the project. */
  readonly scope: string;
  readonly project: string;
  /** The runtime account, the only reader. */
  readonly reader: pulumi.Input<string>;
  readonly placement: SecretPlacement;
  /** With signedUrls: the keys. */
  readonly signingKeys?: pulumi.Input<string>;
}

export interface FunctionSecrets {
  /** The function's `secretEnvironmentVariables`. */
  readonly environmentVariables: pulumi.Output<gcp.types.input.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariable>[];
  readonly readerGrants: readonly Grant[];
}

/**
 * The signing keys (with signed URLs) and the visitor key, in Secret Manager. The visitor key is
 * generated once and kept in Pulumi's state (encrypted) and in Secret Manager: 32 random bytes.
 * Nobody needs to know it; replacing it splits that day's visitor ids.
 */
export function declareFunctionSecrets(name: string, args: FunctionSecretsArgs, parent: pulumi.Resource): FunctionSecrets {
  const secret = { scope: args.scope, project: args.project, reader: args.reader, placement: args.placement };
  const signingKeys =
    args.signingKeys === undefined ? undefined : new FunctionSecret(`${name}-signing-keys`, { ...secret, kind: "signingKeys", value: args.signingKeys }, { parent });
  const visitorKey = new random.RandomBytes(`${name}-visitor-key-bytes`, { length: 32 }, { parent });
  const visitorKeySecret = new FunctionSecret(`${name}-visitor-key`, { ...secret, kind: "visitorKey", value: visitorKey.base64 }, { parent });
  return {
    environmentVariables: [...(signingKeys ? [signingKeys.environmentVariable] : []), visitorKeySecret.environmentVariable],
    readerGrants: [visitorKeySecret.readerGrant, ...(signingKeys ? [signingKeys.readerGrant] : [])],
  };
}

/**
 * A function's deployment checks that its build and runtime accounts hold their roles, so it waits
 * for them to settle. Keyed on every grant: one added later (the signing keys' reader, when
 * signedUrls is turned on) waits again before the function is deployed with it. The trigger holds
 * the grants' ids, so the wait also starts only once they exist.
 */
export function grantsSettled(name: string, grants: readonly Grant[], parent: pulumi.Resource): PropagationWait {
  return new PropagationWait(name, { trigger: pulumi.all(grants.map((grant) => grant.id)).apply(propagationTrigger), seconds: IAM_PROPAGATION_SECONDS }, { parent });
}

/** The Cloud Run service behind a deployed 2nd-gen function. */
export interface FunctionService {
  /** The run.app URL; Cloud Run accepts it as the audience of an ID token. */
  readonly url: string;
  /** `projects/<p>/locations/<region>/services/<name>`: where the invoker role is granted. */
  readonly name: string;
}

export function deployedService(config: gcp.types.output.cloudfunctionsv2.FunctionServiceConfig | undefined): FunctionService {
  if (!config?.uri || !config.service) throw new Error("the deployed function reports no Cloud Run service; check it in the console.");
  return { url: config.uri, name: config.service };
}
