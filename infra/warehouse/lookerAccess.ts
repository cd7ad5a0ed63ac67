import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import type { LookerConnection } from "../../core/config/looker";
import { serviceAccountId } from "../naming";

export interface LookerAccessArgs {
  /** Keeps the service account's id apart from other stacks' and pipelines' (PixelPipeline). */
  readonly scope: string;
  readonly project: string;
  /** The event dataset's id, as the stack names it: Looker reads it. */
  readonly datasetId: string;
  /** The same id from the dataset resource, so the grant waits for the dataset. */
  readonly dataset: pulumi.Input<string>;
  /** The scratch dataset lives beside it. */
  readonly location: string;
  readonly connection: LookerConnection;
}

/** The dataset where Looker writes its persistent derived tables: beside the event dataset, named after it. */
export function scratchDatasetId(datasetId: string): string {
  return `${datasetId}_looker_scratch`;
}

/**
 * What Looker needs to query the warehouse and nothing more (docs/looker.md): an account — one of
 * its own, or the principal the stack names, such as the Looker (Google Cloud core) service agent —
 * with Data Viewer on the event dataset, Job User on the project (jobs belong to a project: the
 * one project-wide role) and Data Editor on a scratch dataset for persistent derived tables only.
 * Looker's own docs ask for Data Editor and Job User; read-only data needs no more than this
 * (https://cloud.google.com/looker/docs/db-config-google-bigquery). Tables with row access
 * policies also need the member in their all-tenants policy: `member` is for PixelPipeline to add.
 */
export class LookerAccess extends pulumi.ComponentResource {
  /** Who Looker connects as, as an IAM member. */
  public readonly member: pulumi.Output<string>;
  /** What to enter in Looker's connection page. */
  public readonly connectionSettings: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: LookerAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pixel:infra:LookerAccess", name, {}, opts);
    this.member =
      args.connection.kind === "principal"
        ? pulumi.output(args.connection.member)
        : new gcp.serviceaccount.Account(
            `${name}-account`,
            {
              accountId: serviceAccountId(args.scope, "looker"),
              displayName: "Pixel pipeline Looker connection",
              description: "Looker's BigQuery connection: reads the event dataset, runs query jobs, writes persistent derived tables to the scratch dataset only.",
            },
            { parent: this },
          ).member;

    new gcp.bigquery.DatasetIamMember(`${name}-reader`, { datasetId: args.dataset, role: "roles/bigquery.dataViewer", member: this.member }, { parent: this });
    new gcp.projects.IAMMember(`${name}-job-user`, { project: args.project, role: "roles/bigquery.jobUser", member: this.member }, { parent: this });
    const scratch = new gcp.bigquery.Dataset(
      `${name}-scratch`,
      {
        datasetId: scratchDatasetId(args.datasetId),
        location: args.location,
        description: "Looker's persistent derived tables (its scratch schema). Only Looker writes here; it may drop any table.",
        // Looker rebuilds every table it keeps here, so nothing of value is lost with the dataset.
        deleteContentsOnDestroy: true,
      },
      { parent: this },
    );
    new gcp.bigquery.DatasetIamMember(`${name}-scratch-editor`, { datasetId: scratch.datasetId, role: "roles/bigquery.dataEditor", member: this.member }, { parent: this });

    this.connectionSettings = pulumi.all([this.member, scratch.datasetId]).apply(([member, scratchId]): Record<string, string> => {
      const email = member.replace(/^serviceAccount:/, "");
      return {
        Dialect: "Google BigQuery Standard SQL",
        "Billing Project ID": args.project,
        Dataset: args.datasetId,
        "Temp Dataset": scratchId,
        Authentication:
          args.connection.kind === "service-account"
            ? `Service Account, with a JSON key of ${email} (gcloud iam service-accounts keys create looker-key.json --iam-account=${email}); the program keeps no key in its state.`
            : `As ${email}: on Looker (Google Cloud core), Application Default Credentials.`,
        "Persistent Derived Tables": "enabled",
      };
    });
    this.registerOutputs({ member: this.member, connectionSettings: this.connectionSettings });
  }
}
