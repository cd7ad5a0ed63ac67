import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import type { IngestMode } from "../core/batchLoad";
import { PropagationWait, propagationTrigger } from "./propagationWait";

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

/**
 * What the batch tier adds: Eventarc, which runs the loader on each archive object, and Cloud
 * Scheduler, which runs the sweep. Cloud Run, Pub/Sub and Cloud Functions are already required.
 */
export const BATCH_APIS = ["eventarc.googleapis.com", "cloudscheduler.googleapis.com"] as const;

/**
 * How long to wait after enabling APIs. Enabling one is eventually consistent: the provider's guide
 * for google_project_service says a service is not guaranteed usable when the resource completes.
 */
export const API_PROPAGATION_SECONDS = 60;

export interface ProjectApisArgs {
  readonly project: string;
  /** A batch stack also enables BATCH_APIS; a streaming stack enables exactly what it did before. */
  readonly ingest: IngestMode;
}

/**
 * Enables the APIs, so a fresh project deploys in one `pulumi up`: the other components depend
 * on this one, and so wait until the APIs have had time to become usable. That wait is keyed on
 * the set of APIs, so it runs on the first deployment and when an API is added, not on every
 * update. Destroying the stack leaves them enabled, because other workloads may use them.
 */
export class ProjectApis extends pulumi.ComponentResource {
  public readonly services: gcp.projects.Service[];

  constructor(name: string, args: ProjectApisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:ProjectApis", name, {}, opts);
    const apis = [...REQUIRED_APIS, ...(args.ingest === "batch" ? BATCH_APIS : [])];
    this.services = apis.map(
      (api) => new gcp.projects.Service(`${name}-${api.split(".")[0]}`, { project: args.project, service: api, disableOnDestroy: false }, { parent: this }),
    );
    new PropagationWait(
      `${name}-usable`,
      { trigger: pulumi.all(this.services.map((service) => service.service)).apply(propagationTrigger), seconds: API_PROPAGATION_SECONDS },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
