import fc from "fast-check";
import type { CoreSettings } from "../../core/config/coreSettings";
import { logEntryToEvent } from "../../core/event";
import type { LoadBalancerLogEntry } from "../../core/logEntry";
import { encodeTenant } from "../../core/tenant";
import { entryNamesTenant, TenantLineFilter } from "../../core/tenantErasure";
import { DEV_SETTINGS, loadBalancerEntry, pixelUrl } from "../../testkit/logEntries";

/** A log entry for this query string, as one line of a sink file. */
function line(query: string, overrides: Record<string, unknown> = {}, insertId = query): string {
  return JSON.stringify(loadBalancerEntry({ insertId, httpRequest: { requestUrl: pixelUrl(query) }, ...overrides }));
}

/** The file through a filter, cut into chunks at these offsets; what it kept and its counts. */
function withoutTenant(content: Buffer, tenant: string, settings: CoreSettings, cuts: readonly number[] = []) {
  const filter = new TenantLineFilter(tenant, settings);
  const kept: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b).map((at) => Math.min(at, content.length))) {
    kept.push(...filter.push(content.subarray(start, Math.max(start, cut))));
    start = Math.max(start, cut);
  }
  kept.push(...filter.push(content.subarray(start)), ...filter.end());
  const joined = Buffer.concat(kept);
  expect(filter.keptBytes).toBe(joined.length);
  return { content: joined, entries: filter.entries, removed: filter.removed, removedRefused: filter.removedRefused };
}

const ALLOWLISTED: CoreSettings = { ...DEV_SETTINGS, tenantAllowlist: ["globex"] };
const SIGNED: CoreSettings = { ...DEV_SETTINGS, signedUrls: true, signingKeys: ["0123456789abcdef"] };

describe("erasing acme takes the entries whose request names acme, whatever the core made of them", () => {
  test.each<[string, string, CoreSettings, "row" | "refused" | "kept"]>([
    ["acme's event", line("user_id=acme&type=click"), DEV_SETTINGS, "row"],
    ["acme, percent-encoded", line("user_id=ac%6De"), DEV_SETTINGS, "row"],
    ["acme not on the allowlist", line("user_id=acme"), ALLOWLISTED, "refused"],
    ["acme without a signature", line("user_id=acme"), SIGNED, "refused"],
    ["acme answered 404", line("user_id=acme", { httpRequest: { requestUrl: pixelUrl("user_id=acme"), status: 404 } }), DEV_SETTINGS, "refused"],
    ["acme on another path", line("", { httpRequest: { requestUrl: "https://track.example.com/favicon.ico?user_id=acme" } }), DEV_SETTINGS, "refused"],
    ["acme among other tenants", line("user_id=globex&user_id=acme"), DEV_SETTINGS, "refused"],
    ["acme_eu", line("user_id=acme_eu"), DEV_SETTINGS, "kept"],
    ["acme-corp, whose encoding starts with acme's", line("user_id=acme-corp"), DEV_SETTINGS, "kept"],
    ["acme2", line("user_id=acme2"), DEV_SETTINGS, "kept"],
    ["Acme", line("user_id=Acme"), DEV_SETTINGS, "kept"],
    ["acme in another parameter", line("user_id=globex&type=acme"), DEV_SETTINGS, "kept"],
    ["no tenant", line("type=click"), DEV_SETTINGS, "kept"],
    ["no request URL", JSON.stringify({ insertId: "x", httpRequest: {} }), DEV_SETTINGS, "kept"],
    ["not JSON, naming acme", "user_id=acme {", DEV_SETTINGS, "kept"],
    ["an empty line", "", DEV_SETTINGS, "kept"],
  ])("%s", (_name, text, settings, expected) => {
    const content = Buffer.from(`${text}\n`);
    const erased = withoutTenant(content, "acme", settings);
    expect(erased.content.toString()).toBe(expected === "kept" ? content.toString() : "");
    expect(erased.removed).toBe(expected === "kept" ? 0 : 1);
    expect(erased.removedRefused).toBe(expected === "refused" ? 1 : 0);
  });
});

// Tenants that are prefixes of each other, as names or as encodings (acme-corp is acmeX2Dcorp).
const TENANTS = ["acme", "acme_eu", "acme-corp", "acmeX2Dcorp", "Acme", "acme.", "globex"];

/** Lines of a sink file: entries of these tenants, lines that are not JSON (bytes that are not even UTF-8), with or without a last newline. */
const sinkFile = fc.record({
  lines: fc.array(
    fc.oneof(
      fc.record({ tenant: fc.constantFrom(...TENANTS), id: fc.nat() }).map(({ tenant, id }) => ({ tenant, bytes: Buffer.from(line(`user_id=${encodeURIComponent(tenant)}`, {}, `e${id}`)) })),
      fc.uint8Array({ maxLength: 20 }).map((bytes) => ({ tenant: undefined, bytes: Buffer.from(bytes.filter((byte) => byte !== 0x0a)) })),
    ),
    { maxLength: 12 },
  ),
  lastNewline: fc.boolean(),
});

test("every line that is not the tenant's survives byte for byte, in order, wherever the chunks end; all of the tenant's go", () => {
  fc.assert(
    fc.property(sinkFile, fc.constantFrom(...TENANTS), fc.array(fc.nat(4000), { maxLength: 6 }), ({ lines, lastNewline }, tenant, cuts) => {
      const withEnds = lines.map((entry, index) => ({ ...entry, bytes: index < lines.length - 1 || lastNewline ? Buffer.concat([entry.bytes, Buffer.from("\n")]) : entry.bytes }));
      const erased = withoutTenant(Buffer.concat(withEnds.map((entry) => entry.bytes)), tenant, DEV_SETTINGS, cuts);
      expect(erased.content).toEqual(Buffer.concat(withEnds.filter((entry) => entry.tenant !== tenant).map((entry) => entry.bytes)));
      expect(erased.removed).toBe(lines.filter((entry) => entry.tenant === tenant).length);
    }),
  );
});

test("an entry the core puts in a tenant's rows is that tenant's to erase, and no other tenant's", () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), fc.boolean(), fc.nat(3), (tenant, other, twice, pick) => {
      const query = `user_id=${encodeURIComponent(tenant)}${twice ? `&user_id=${encodeURIComponent(other)}` : ""}&type=${encodeURIComponent(other)}`;
      const entry = loadBalancerEntry({ httpRequest: { requestUrl: pixelUrl(query) } });
      const result = logEntryToEvent(entry as LoadBalancerLogEntry, DEV_SETTINGS);
      const erased = [tenant, other, `${tenant}_eu`, tenant.slice(0, -1)][pick];
      if (result.ok) expect(entryNamesTenant(entry, erased, DEV_SETTINGS.tenantAttribute)).toBe(result.tableSuffix.startsWith(`_${encodeTenant(erased)}_`));
    }),
  );
});
