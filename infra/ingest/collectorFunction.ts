import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { serializeCoreSettings } from "../../core/config/coreSettings";
import type { CoreSettings } from "../../core/config/coreSettings";
import { DATASET_VARIABLE, DELIVERY_ATTEMPTS_VARIABLE, FUNCTION_ENTRY_POINT, SETTINGS_VARIABLE } from "../../core/functionContract";
import { DEPLOYED_RUNTIME, FunctionBundle } from "./functionBundle";
import { declareFunctionSecrets, declareFunctionSource, deployedService, FunctionService, grantsSettled } from "./functionDeployment";
import { serviceAccountId } from "../naming";
import type { CollectorSettings, SecretPlacement } from "../../core/config/stackConfig";

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

/**
 * The function that turns request logs into BigQuery rows. It has no event trigger: Pub/Sub
 * pushes to it (see PushDelivery), so it only accepts internal traffic with an ID token.
 */
export class CollectorFunction extends pulumi.ComponentResource {
  public readonly service: pulumi.Output<FunctionService>;

  constructor(name: string, args: CollectorFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:CollectorFunction", name, {}, opts);

    const source = declareFunctionSource(
      name,
      { scope: args.scope, project: args.project, region: args.region, bundle: args.bundle, buildAccount: { purpose: "build", displayName: "Pixel collector function builds" } },
      this,
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
    const secrets = declareFunctionSecrets(
      name,
      { scope: args.scope, project: args.project, reader: runtimeAccount.member, placement: args.secretPlacement, signingKeys: args.signingKeys },
      this,
    );
    const settled = grantsSettled(`${name}-grants`, [...source.buildGrants, datasetEditor, ...secrets.readerGrants], this);

    const fn = new gcp.cloudfunctionsv2.Function(
      `${name}-function`,
      {
        location: args.region,
        description: "Pixel events: load balancer log entry -> BigQuery row",
        buildConfig: {
          runtime: DEPLOYED_RUNTIME,
          entryPoint: FUNCTION_ENTRY_POINT,
          source: { storageSource: source.storageSource },
          serviceAccount: source.buildAccountId,
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
          secretEnvironmentVariables: secrets.environmentVariables,
        },
      },
      { parent: this, dependsOn: settled },
    );

    this.service = fn.serviceConfig.apply(deployedService);
    this.registerOutputs({ service: this.service });
  }
}
