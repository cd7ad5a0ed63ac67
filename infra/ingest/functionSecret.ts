import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { SIGNING_KEYS_VARIABLE } from "../../core/functionContract";
import { signingKeysSecretId } from "../naming";

export interface SigningKeysSecretArgs {
  /** The stack name, with the pipeline's name when it is not the default: keeps project-unique ids and display names apart. */
  readonly scope: string;
  readonly project: string;
  /** The keys, one per line; a secret Output, so they stay encrypted in Pulumi's state. */
  readonly keys: pulumi.Input<string>;
  /** The only principal that may read them: the function's runtime account. */
  readonly reader: pulumi.Input<string>;
}

/**
 * The URL signing keys in Secret Manager. They never enter the settings JSON or the function's
 * plain environment: Cloud Run hands them to the function as a secret environment variable.
 */
export class SigningKeysSecret extends pulumi.ComponentResource {
  /** The function's `secretEnvironmentVariables` entry. */
  public readonly environmentVariable: pulumi.Output<gcp.types.input.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariable>;

  constructor(name: string, args: SigningKeysSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:SigningKeysSecret", name, {}, opts);

    const secret = new gcp.secretmanager.Secret(
      `${name}-secret`,
      { secretId: signingKeysSecretId(args.scope), replication: { auto: {} } },
      { parent: this },
    );
    // New keys make a new version, and pinning the version number rolls out a revision that reads them.
    const version = new gcp.secretmanager.SecretVersion(`${name}-version`, { secret: secret.id, secretData: args.keys }, { parent: this });
    new gcp.secretmanager.SecretIamMember(
      `${name}-reader`,
      { secretId: secret.secretId, role: "roles/secretmanager.secretAccessor", member: args.reader },
      { parent: this },
    );

    this.environmentVariable = pulumi
      .all([secret.secretId, version.version])
      .apply(([secretId, versionNumber]) => ({ key: SIGNING_KEYS_VARIABLE, projectId: args.project, secret: secretId, version: versionNumber }));
    this.registerOutputs({ environmentVariable: this.environmentVariable });
  }
}
