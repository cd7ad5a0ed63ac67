import { createHash } from "node:crypto";
import { encodeTenant } from "../../core/tenant";

/** Names of the row access policies and grants that give each reader its tenants' rows. */

/** Row access policy ids allow [A-Za-z0-9_]; the tenant encoding fits, and tenants stay apart from "all_tenants". */
export function tenantPolicyId(tenant: string): string {
  return `tenant_${encodeTenant(tenant)}`;
}

export const ALL_TENANTS_POLICY_ID = "all_tenants";

/** A readable, stable part of a resource name for an IAM member; the hash keeps members that read alike apart. */
export function memberResourceName(member: string): string {
  const readable = member.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return `${readable}-${createHash("sha256").update(member).digest("hex").slice(0, 6)}`;
}
