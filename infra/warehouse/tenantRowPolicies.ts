import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import type { TenantReaders } from "../../core/config/tenantReaders";
import { encodeTenant } from "../../core/tenant";
import { tenantFilter } from "../../core/views";
import type { SqlDialect } from "../../core/views";
import { ALL_TENANTS_POLICY_ID, tenantPolicyId } from "./tenantAccess";

export interface TenantRowPoliciesArgs {
  /** A table with a `tenant` column. */
  readonly table: gcp.bigquery.Table;
  readonly readers: TenantReaders;
  /** Writes the tenant filter (core/views.ts tenantFilter), the same as every other query's. */
  readonly dialect: SqlDialect;
  /** Besides allTenantsReaders, the members that see every row: the program's own accounts that read or rewrite the table. */
  readonly allRowsMembers?: readonly pulumi.Input<string>[];
}

/**
 * The row access policies that give each tenant's readers that tenant's rows of one table, and
 * every row to allTenantsReaders. Once a table has row access policies, a query returns only the
 * rows of the policies that name its user, and DML needs a policy with the filter TRUE
 * (https://cloud.google.com/bigquery/docs/row-level-security-intro). Declared as children of
 * `parent`, named `<prefix>-all-tenants` and `<prefix>-tenant-<encoded tenant>`.
 */
export function tenantRowPolicies(prefix: string, args: TenantRowPoliciesArgs, parent: pulumi.Resource): gcp.bigquery.RowAccessPolicy[] {
  const table = { datasetId: args.table.datasetId, tableId: args.table.tableId };
  return [
    new gcp.bigquery.RowAccessPolicy(
      `${prefix}-all-tenants`,
      { ...table, policyId: ALL_TENANTS_POLICY_ID, filterPredicate: "TRUE", grantees: [...args.readers.allTenants, ...(args.allRowsMembers ?? [])] },
      { parent },
    ),
    ...[...args.readers.byTenant].map(
      ([tenant, members]) =>
        new gcp.bigquery.RowAccessPolicy(
          `${prefix}-tenant-${encodeTenant(tenant)}`,
          { ...table, policyId: tenantPolicyId(tenant), filterPredicate: tenantFilter(tenant, args.dialect), grantees: [...members] },
          { parent },
        ),
    ),
  ];
}
