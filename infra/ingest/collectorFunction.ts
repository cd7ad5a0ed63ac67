import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import * as random from "@pulumi/random";
import { serializeCoreSettings } from "../../core/config/coreSettings";
import type { CoreSettings } from "../../core/config/coreSettings";
import { DATASET_VARIABLE, DELIVERY_ATTEMPTS_VARIABLE, FUNCTION_ENTRY_POINT, SETTINGS_VARIABLE } from "../../core/functionContract";
import { BUILD_PROJECT_ROLES, BUILD_STORAGE_CONDITION, BUILD_STORAGE_ROLE } from "./buildAccess";
import { DEPLOYED_RUNTIME, FunctionBundle } from "./functionBundle";
import { PropagationWait, propagationTrigger } from "../propagationWait";
import { serviceAccountId } from "../naming";
import { FunctionSecret } from "./functionSecret";
import type { CollectorSettings, SecretPlacement } from "../../core/config/stackConfig";

/** How long Google's own example waits for a new build service account's roles to take effect. */
export const IAM_PROPAGATION_SECONDS = 60;

export interface CollectorFunctionArgs {
  /** The stack name, with the pipeline's name when it is not the default: keeps project-unique ids and display names apart. */
  readonly scope: string;
  readonly project: string;
  readonly region: string;
  readonly core: CoreSettings;
  readonly datasetId: pulumi.Input<string>;
  readonly settings: CollectorSettings;
  /** The push subscription's delivery budget, so the function's delivery policy is the one Pub/Sub applies. */
  readonly maxDeliveryAttempts: number;
  readonly bundle: FunctionBundle;
  /** With signedUrls: the keys, stored in Secret Manager and read by the function at start-up. */
  readonly signingKeys?: pulumi.Input<string>;
  /** Where Secret Manager keeps the keys. */
  readonly secretPlacement: SecretPlacement;
}

/** The Cloud Run service behind a deployed 2nd-gen function. */
export interface FunctionService {
  /** The run.app URL; Cloud Run accepts it as the audience of an ID token. */
  readonly url: string;
  /** `projects/<p>/locations/<region>/services/<name>`: where the invoker role is granted. */
  readonly name: string;
}

/**
 * The function that turns request logs into BigQuery rows. It has no event trigger: Pub/Sub
 * pushes to it (see PushDelivery), so it only accepts internal traffic with an ID token.
 */
export class CollectorFunction extends pulumi.ComponentResource {
  public readonly service: pulumi.Output<FunctionService>;

  constructor(name: string, args: CollectorFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:CollectorFunction", name, {}, opts);

    // Named by content hash, so a changed bundle is a new object and the function is rebuilt from
    // it. The zip is deterministic and sourceMd5hash is its MD5, so an unchanged bundle is no change:
    // an AssetArchive would be replaced on every update (pulumi/pulumi-gcp#3146).
    const sourceBucket = new gcp.storage.Bucket(
      `${name}-source`,
      { location: args.region, uniformBucketLevelAccess: true, publicAccessPrevention: "enforced" },
      { parent: this },
    );
    const sourceArchive = new gcp.storage.BucketObject(
      `${name}-archive`,
      {
        bucket: sourceBucket.name,
        name: `${args.bundle.hash}.zip`,
        source: new pulumi.asset.FileAsset(args.bundle.archivePath),
        sourceMd5hash: args.bundle.archiveMd5,
        contentType: "application/zip",
      },
      { parent: this },
    );

    // Its own identity, never the default compute account: it may write to the event dataset, read
    // the visitor key (and the signing keys, with signed URLs), and nothing else.
    const runtimeAccount = new gcp.serviceaccount.Account(
      `${name}-runtime`,
      { accountId: serviceAccountId(args.scope, "fn"), displayName: "Pixel collector function" },
      { parent: this },
    );
    const datasetEditor = new gcp.bigquery.DatasetIamMember(
      `${name}-dataset-editor`,
      { datasetId: args.datasetId, role: "roles/bigquery.dataEditor", member: runtimeAccount.member },
      { parent: this },
    );

    const secret = { scope: args.scope, project: args.project, reader: runtimeAccount.member, placement: args.secretPlacement };
    const signingKeys =
      args.signingKeys === undefined ? undefined : new FunctionSecret(`${name}-signing-keys`, { ...secret, kind: "signingKeys", value: args.signingKeys }, { parent: this });
    // The visitor key is generated once and kept in Pulumi's state (encrypted) and in Secret
    // Manager: 32 random bytes. Nobody needs to know it; replacing it splits that day's visitor ids.
    const visitorKey = new random.RandomBytes(`${name}-visitor-key-bytes`, { length: 32 }, { parent: this });
    const visitorKeySecret = new FunctionSecret(`${name}-visitor-key`, { ...secret, kind: "visitorKey", value: visitorKey.base64 }, { parent: this });

    // Builds get their own account with the documented roles: new projects would otherwise build as the
    // default compute account, which may lack them or hold far more.
    const buildAccount = new gcp.serviceaccount.Account(
      `${name}-build`,
      { accountId: serviceAccountId(args.scope, "build"), displayName: "Pixel collector function builds" },
      { parent: this },
    );
    const buildGrant = (role: string, condition?: typeof BUILD_STORAGE_CONDITION) =>
      new gcp.projects.IAMMember(`${name}-build-${role.split("/")[1]}`, { project: args.project, role, member: buildAccount.member, condition }, { parent: this });
    const buildGrants = [
      ...BUILD_PROJECT_ROLES.map((role) => buildGrant(role)),
      buildGrant(BUILD_STORAGE_ROLE, BUILD_STORAGE_CONDITION),
      // Who copies the source out of this bucket is not documented; reading it is all a build could need here.
      new gcp.storage.BucketIAMMember(
        `${name}-build-source-reader`,
        { bucket: sourceBucket.name, role: "roles/storage.objectViewer", member: buildAccount.member },
        { parent: this },
      ),
    ];
    // The deployment checks that the runtime account can read its secrets, so those grants must
    // settle too. Keyed on every grant of the two accounts: one added later (the signing keys'
    // reader, when signedUrls is turned on) waits again before the function is deployed with it.
    // The trigger holds the grants' ids, so the wait also starts only once they exist.
    const accountGrants = [...buildGrants, datasetEditor, visitorKeySecret.readerGrant, ...(signingKeys ? [signingKeys.readerGrant] : [])];
    const grantsSettled = new PropagationWait(
      `${name}-grants`,
      { trigger: pulumi.all(accountGrants.map((grant) => grant.id)).apply(propagationTrigger), seconds: IAM_PROPAGATION_SECONDS },
      { parent: this },
    );

    const fn = new gcp.cloudfunctionsv2.Function(
      `${name}-function`,
      {
        location: args.region,
        description: "Pixel events: load balancer log entry -> BigQuery row",
        buildConfig: {
          runtime: DEPLOYED_RUNTIME,
          entryPoint: FUNCTION_ENTRY_POINT,
          source: { storageSource: { bucket: sourceBucket.name, object: sourceArchive.name } },
          serviceAccount: buildAccount.id,
        },
        serviceConfig: {
          availableMemory: args.settings.memory,
          availableCpu: args.settings.cpu,
          maxInstanceCount: args.settings.maxInstances,
          maxInstanceRequestConcurrency: args.settings.concurrency,
          timeoutSeconds: args.settings.timeoutSeconds,
          serviceAccountEmail: runtimeAccount.email,
          // Pub/Sub push from this project counts as internal traffic; nothing else needs to reach it.
          ingressSettings: "ALLOW_INTERNAL_ONLY",
          environmentVariables: {
            [SETTINGS_VARIABLE]: serializeCoreSettings(args.core),
            [DATASET_VARIABLE]: args.datasetId,
            [DELIVERY_ATTEMPTS_VARIABLE]: String(args.maxDeliveryAttempts),
          },
          secretEnvironmentVariables: [...(signingKeys ? [signingKeys.environmentVariable] : []), visitorKeySecret.environmentVariable],
        },
      },
      { parent: this, dependsOn: grantsSettled },
    );

    this.service = fn.serviceConfig.apply(deployedService);
    this.registerOutputs({ service: this.service });
  }
}

function deployedService(config: gcp.types.output.cloudfunctionsv2.FunctionServiceConfig | undefined): FunctionService {
  if (!config?.uri || !config.service) throw new Error("the deployed function reports no Cloud Run service; check it in the console.");
  return { url: config.uri, name: config.service };
}
