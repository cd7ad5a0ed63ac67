import { ConfigProblems, RawConfig, readMap, readStringList } from "./fields";
import type { CoreSettings } from "./coreSettings";
import { MAX_TENANT_BYTES } from "../tenant";

/**
 * Who may read which tenant's rows: row access policies on the rollup tables (Rollups) and, with
 * the partitioned layout, on the event table (AnalyticsViews). The day tables of per-tenant-day
 * are created on demand and get no policy: their readers need authorized views (docs/analytics.md).
 * Pure: config reading only; infra/warehouse/tenantAccess.ts names the resources.
 */
export interface TenantReaders {
  /** Per tenant, the IAM members who see that tenant's rows and no others. */
  readonly byTenant: ReadonlyMap<string, readonly string[]>;
  /** The members who see every row. Once a table has row access policies, nobody else does, owners included. */
  readonly allTenants: readonly string[];
}

/** Principals a row access policy and a table grant both accept; allUsers and allAuthenticatedUsers are refused on purpose. */
const MEMBER = /^(?:user|group|serviceAccount|domain):[^\s:]+$/;
const MEMBER_HINT = 'use IAM principals such as "user:ana@acme.com", "group:acme-analysts@acme.com", "serviceAccount:…" or "domain:acme.com"';

/** Reads `tenantReaders` and `allTenantsReaders`, adding every problem found; undefined when per-tenant access is not configured. */
export function readTenantReaders(raw: RawConfig, core: CoreSettings, problems: ConfigProblems): TenantReaders | undefined {
  const declared = readMap(raw, "tenantReaders", problems);
  const allTenants = readMembers(readStringList(raw, "allTenantsReaders", problems), "allTenantsReaders", problems);
  if (!declared || Object.keys(declared).length === 0) {
    if (allTenants.length > 0) {
      problems.add("allTenantsReaders", "only takes effect with tenantReaders: without row access policies, everyone with access to the dataset sees every row.");
    }
    return undefined;
  }
  if (allTenants.length === 0) {
    problems.add(
      "allTenantsReaders",
      'is required with tenantReaders: once the table has row access policies, only their grantees see rows, project owners included. List who sees every tenant, e.g. ["group:analysts@example.com"].',
    );
  }
  const byTenant = new Map<string, readonly string[]>();
  for (const [tenant, value] of Object.entries(declared)) {
    const key = `tenantReaders.${tenant}`;
    const bytes = Buffer.byteLength(tenant, "utf8");
    if (bytes === 0 || bytes > MAX_TENANT_BYTES) {
      problems.add(key, `a tenant must be 1 to ${MAX_TENANT_BYTES} bytes of UTF-8.`);
      continue;
    }
    if (core.tenantAllowlist && !core.tenantAllowlist.includes(tenant)) {
      problems.add(key, `"${tenant}" is not in tenantAllowlist, so it has no events; add it there or remove it here.`);
      continue;
    }
    const list = typeof value === "string" ? [value] : value;
    if (!Array.isArray(list) || list.length === 0 || !list.every((member) => typeof member === "string")) {
      problems.add(key, `expected a list of IAM principals; ${MEMBER_HINT}.`);
      continue;
    }
    byTenant.set(tenant, readMembers(list, key, problems));
  }
  return { byTenant, allTenants };
}

function readMembers(members: readonly string[] | undefined, key: string, problems: ConfigProblems): string[] {
  const valid = (members ?? []).filter((member) => MEMBER.test(member));
  for (const member of (members ?? []).filter((candidate) => !MEMBER.test(candidate))) {
    problems.add(key, `${JSON.stringify(member)} is not an IAM principal that may read rows; ${MEMBER_HINT}.`);
  }
  return valid;
}

/** Every member with some read access, once each. */
export function allReaders(readers: TenantReaders): string[] {
  return [...new Set([...readers.allTenants, ...[...readers.byTenant.values()].flat()])];
}
