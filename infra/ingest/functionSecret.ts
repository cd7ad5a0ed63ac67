import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { SIGNING_KEYS_VARIABLE, VISITOR_KEY_VARIABLE } from "../../core/functionContract";
import type { SecretPlacement } from "../../core/config/stackConfig";
import { functionSecretId } from "../naming";

/** The secrets the function reads: their component type (part of deployed URNs), secret id suffix and variable. */
const FUNCTION_SECRETS = {
  signingKeys: { type: "pixel:infra:SigningKeysSecret", purpose: "signing-keys", variable: SIGNING_KEYS_VARIABLE },
  visitorKey: { type: "pixel:infra:VisitorKeySecret", purpose: "visitor-key", variable: VISITOR_KEY_VARIABLE },
} as const;

export type FunctionSecretKind = keyof typeof FUNCTION_SECRETS;

export interface FunctionSecretArgs {
  readonly kind: FunctionSecretKind;
  /** The stack name, with the pipeline's name when it is not the default: keeps project-unique ids and display names apart. */
  readonly scope: string;
  readonly project: string;
  /** The secret; a secret Output, so it stays encrypted in Pulumi's state. */
  readonly value: pulumi.Input<string>;
  /** The only principal that may read it: the function's runtime account. */
  readonly reader: pulumi.Input<string>;
  readonly placement: SecretPlacement;
}

/**
 * A secret of the function in Secret Manager: the URL signing keys, or the visitor key. It never
 * enters the settings JSON or the function's plain environment: Cloud Run hands it to the
 * function as a secret environment variable.
 */
export class FunctionSecret extends pulumi.ComponentResource {
  /** The function's `secretEnvironmentVariables` entry. */
  public readonly environmentVariable: pulumi.Output<gcp.types.input.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariable>;
  /** The reader's access: the function's deployment checks it, so it must have settled first. */
  public readonly readerGrant: gcp.secretmanager.SecretIamMember;

  constructor(name: string, args: FunctionSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    const { type, purpose, variable } = FUNCTION_SECRETS[args.kind];
    super(type, name, {}, opts);

    const { locations, keepExisting } = args.placement;
    // Replication cannot change once a secret exists. Without secretLocations, an existing secret
    // keeps its own (automatic, on stacks deployed before the setting). With it, a secret elsewhere
    // is replaced, and deleted first because the new one takes the same id; its version and grant
    // are made again, the version from the same value.
    const secret = new gcp.secretmanager.Secret(
      `${name}-secret`,
      { secretId: functionSecretId(args.scope, purpose), replication: { userManaged: { replicas: locations.map((location) => ({ location })) } } },
      { parent: this, ...(keepExisting ? { ignoreChanges: ["replication"] } : { deleteBeforeReplace: true }) },
    );
    // A new value makes a new version, and pinning the version number rolls out a revision that reads it.
    const version = new gcp.secretmanager.SecretVersion(`${name}-version`, { secret: secret.id, secretData: args.value }, { parent: this });
    this.readerGrant = new gcp.secretmanager.SecretIamMember(
      `${name}-reader`,
      { secretId: secret.secretId, role: "roles/secretmanager.secretAccessor", member: args.reader },
      { parent: this },
    );

    this.environmentVariable = pulumi
      .all([secret.secretId, version.version])
      .apply(([secretId, versionNumber]) => ({ key: variable, projectId: args.project, secret: secretId, version: versionNumber }));
    this.registerOutputs({ environmentVariable: this.environmentVariable });
  }
}
