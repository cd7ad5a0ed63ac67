import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";

/**
 * Names Pulumi's auto-naming does not cover: service account and secret ids, and the service
 * agents' members.
 */

const SERVICE_ACCOUNT_ID_MAX = 30;

/**
 * Service account ids have no auto-naming and must be unique in the project, so the scope (the
 * stack name, see PixelPipeline) is part of them: `pixel-<scope>-<purpose>`, 6 to 30 of
 * [a-z0-9-]. When the scope had to be changed to fit, a short hash of it keeps two apart ("Dev"
 * and "dev").
 */
export function serviceAccountId(scope: string, purpose: string): string {
  const cleaned = scope.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  const room = SERVICE_ACCOUNT_ID_MAX - "pixel-".length - purpose.length - 1;
  if (cleaned === scope && cleaned.length <= room) return `pixel-${cleaned}-${purpose}`;
  const hash = createHash("sha256").update(scope).digest("hex").slice(0, 4);
  const kept = cleaned.slice(0, room - hash.length - 1).replace(/-+$/, "");
  return `pixel-${kept ? `${kept}-` : ""}${hash}-${purpose}`;
}

/** Secret ids allow [A-Za-z0-9_-] and are unique in the project, like service account ids: `pixel-<scope>-<purpose>`. */
export function functionSecretId(scope: string, purpose: string): string {
  return `pixel-${scope.replace(/[^A-Za-z0-9_-]/g, "-")}-${purpose}`;
}

/** A Google service agent: the API whose agent it is, and the domain of its fixed address. */
export interface ServiceAgent {
  /** As the error names it: "Pub/Sub". */
  readonly label: string;
  /** The API, as gcp.projects.ServiceIdentity takes it. */
  readonly service: string;
  /** The agent's address is `service-<project number>@<domain>`. */
  readonly domain: string;
}

/** The service agents the program grants roles to. */
export const SERVICE_AGENTS = {
  pubsub: { label: "Pub/Sub", service: "pubsub.googleapis.com", domain: "gcp-sa-pubsub.iam.gserviceaccount.com" },
  dataTransfer: { label: "BigQuery Data Transfer", service: "bigquerydatatransfer.googleapis.com", domain: "gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com" },
  // Not a ServiceIdentity: Cloud Storage reports (and creates) its agent through gcp.storage.getProjectServiceAccount.
  storage: { label: "Cloud Storage", service: "storage.googleapis.com", domain: "gs-project-accounts.iam.gserviceaccount.com" },
} as const satisfies Record<string, ServiceAgent>;

/**
 * A service agent as an IAM member. ServiceIdentity reports its email only when the API returns
 * one (the provider says it may not), and a grant to an empty member fails without saying why;
 * the agent's address is fixed by the project number, so that is the fallback.
 */
export function serviceAgentMember(agent: ServiceAgent, reportedEmail: string | undefined, projectNumber: string | undefined): string {
  if (reportedEmail) return `serviceAccount:${reportedEmail}`;
  if (!projectNumber || !/^[0-9]+$/.test(projectNumber)) {
    throw new Error(`the ${agent.label} service agent has no email and the project number is ${JSON.stringify(projectNumber)}: check gcp:project and that the ${agent.label} API (${agent.service}) is enabled.`);
  }
  return `serviceAccount:service-${projectNumber}@${agent.domain}`;
}

/**
 * Declares a service agent, so that it exists before it is granted roles (Google creates service
 * agents lazily), and returns its member, which the grants then wait for. The project is looked up
 * only when the identity reports no email.
 */
export function declareServiceAgent(name: string, project: string, agent: ServiceAgent, parent: pulumi.Resource): pulumi.Output<string> {
  return new gcp.projects.ServiceIdentity(name, { project, service: agent.service }, { parent }).email.apply((email) => reportedAgentMember(agent, project, email, parent));
}

/**
 * The project's Cloud Storage service agent, which publishes the bucket notifications Eventarc's
 * storage triggers read. Asking for it creates it, as ServiceIdentity does for other agents.
 */
export function storageServiceAgent(project: string, parent: pulumi.Resource): pulumi.Output<string> {
  return gcp.storage.getProjectServiceAccountOutput({ project }, { parent }).emailAddress.apply((email) => reportedAgentMember(SERVICE_AGENTS.storage, project, email, parent));
}

async function reportedAgentMember(agent: ServiceAgent, project: string, email: string | undefined, parent: pulumi.Resource): Promise<string> {
  return serviceAgentMember(agent, email, email ? undefined : (await gcp.organizations.getProject({ projectId: project }, { parent })).number);
}
