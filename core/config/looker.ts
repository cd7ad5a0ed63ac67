import { ConfigProblems, RawConfig, readString } from "./fields";

/** What Looker gets from the stack (docs/looker.md): the user attribute its explores filter tenants by, and its BigQuery connection. */
export interface LookerSettings {
  /** The Looker user attribute that holds each user's tenant; every generated explore filters on it. Absent: no tenant filter. */
  readonly tenantUserAttribute?: string;
  /** Absent: the program declares nothing for Looker. */
  readonly connection?: LookerConnection;
}

/** Who Looker connects as: a service account the program creates, or a principal the stack names (the Looker (Google Cloud core) service agent, say). */
export type LookerConnection = { readonly kind: "service-account" } | { readonly kind: "principal"; readonly member: string };

export const LOOKER_SERVICE_ACCOUNT = "service-account";

/** Looker's user attribute names: lower-case letters, digits and _. */
const USER_ATTRIBUTE = /^[a-z][a-z0-9_]{0,254}$/;
/** Looker reaches BigQuery as a service account: its own key's, or the Looker (Google Cloud core) service agent. */
const SERVICE_ACCOUNT_MEMBER = /^serviceAccount:[^\s:@]+@[^\s:@]+\.gserviceaccount\.com$/;

/** Reads lookerTenantUserAttribute and lookerConnection, adding every problem to `problems`. */
export function readLookerSettings(raw: RawConfig, problems: ConfigProblems): LookerSettings {
  const tenantUserAttribute = readString(raw, "lookerTenantUserAttribute", problems, {
    pattern: USER_ATTRIBUTE,
    hint: 'use the name of a Looker user attribute: lower-case letters, digits and _, such as "pixel_tenant"',
  });
  const connection = readString(raw, "lookerConnection", problems, { fallback: "" });
  let parsed: LookerConnection | undefined;
  if (connection === LOOKER_SERVICE_ACCOUNT) parsed = { kind: "service-account" };
  else if (SERVICE_ACCOUNT_MEMBER.test(connection)) parsed = { kind: "principal", member: connection };
  else if (connection !== "") {
    problems.add(
      "lookerConnection",
      `${JSON.stringify(connection)} is neither "${LOOKER_SERVICE_ACCOUNT}" nor a service account principal: use "${LOOKER_SERVICE_ACCOUNT}" for one the program creates, or "serviceAccount:service-<project number>@gcp-sa-looker.iam.gserviceaccount.com" for Looker (Google Cloud core).`,
    );
  }
  return { ...(tenantUserAttribute ? { tenantUserAttribute } : {}), ...(parsed ? { connection: parsed } : {}) };
}
