import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

/** Every Google API the pipeline calls, directly or through the services it uses. */
export const REQUIRED_APIS = [
  "cloudresourcemanager.googleapis.com",
  "iam.googleapis.com",
  "compute.googleapis.com",
  "storage.googleapis.com",
  "logging.googleapis.com",
  "monitoring.googleapis.com",
  "pubsub.googleapis.com",
  "bigquery.googleapis.com",
  // Scheduled queries, which keep the rollups up to date.
  "bigquerydatatransfer.googleapis.com",
  "cloudfunctions.googleapis.com",
  "cloudbuild.googleapis.com",
  "artifactregistry.googleapis.com",
  "run.googleapis.com",
  "secretmanager.googleapis.com",
] as const;

export interface ProjectApisArgs {
  readonly project: string;
}

/**
 * Enables the APIs, so a fresh project deploys in one `pulumi up`: the other components depend
 * on this one. Destroying the stack leaves them enabled, because other workloads may use them.
 */
export class ProjectApis extends pulumi.ComponentResource {
  public readonly services: gcp.projects.Service[];

  constructor(name: string, args: ProjectApisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:ProjectApis", name, {}, opts);
    this.services = REQUIRED_APIS.map(
      (api) => new gcp.projects.Service(`${name}-${api.split(".")[0]}`, { project: args.project, service: api, disableOnDestroy: false }, { parent: this }),
    );
    this.registerOutputs({});
  }
}
