import fc from "fast-check";
import { buildCountryTable, readCountryTable } from "../../core/country";
import type { ParsedIp } from "../../core/ip";

// The table format and lookup, on generated databases; test/assets/countryTable.test.ts checks the real one.

interface Range {
  readonly start: bigint;
  readonly end: bigint;
  readonly country: string;
}

const ipv4 = (value: bigint): ParsedIp => ({ version: 4, value: Number(value) });
const ipv6 = (value: bigint): ParsedIp => ({ version: 6, groups: Array.from({ length: 8 }, (_, group) => Number((value >> BigInt(112 - 16 * group)) & 0xffffn)) });
const csv = (ranges: readonly Range[]) => ranges.map((range) => `${range.start},${range.end},${range.country}`).join("\n");
/** The reference: a scan over the rows, as the database defines its answer. */
const reference = (ranges: readonly Range[], address: bigint) => ranges.find((range) => range.start <= address && address <= range.end)?.country ?? null;

/** Sorted, non-overlapping ranges over `bits`-bit addresses, with gaps, neighbours of one country, and the space's edges. */
function ranges(bits: bigint): fc.Arbitrary<Range[]> {
  const max = (1n << bits) - 1n;
  return fc
    .uniqueArray(fc.bigInt({ min: 0n, max }), { minLength: 2, maxLength: 40 })
    .chain((cuts) => fc.tuple(fc.constant([...cuts].sort((a, b) => (a < b ? -1 : 1))), fc.array(fc.constantFrom("DE", "FR", "US", "JP"), { minLength: 40, maxLength: 40 }), fc.array(fc.boolean(), { minLength: 40, maxLength: 40 })))
    .map(([cuts, countries, gaps]) => cuts.slice(1).flatMap((end, index) => (gaps[index] ? [] : [{ start: cuts[index] + (index === 0 ? 0n : 1n), end, country: countries[index] }])));
}

/** Addresses on and around every range edge, and anywhere. */
function probes(rows: readonly Range[], bits: bigint): bigint[] {
  const max = (1n << bits) - 1n;
  return [0n, max, ...rows.flatMap((range) => [range.start - 1n, range.start, range.end, range.end + 1n])].filter((address) => address >= 0n && address <= max);
}

test("every address gets the country of the range that holds it, or null in a gap, in both address families", () => {
  fc.assert(
    fc.property(ranges(32n), ranges(128n), fc.array(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), { maxLength: 20 }), (v4, v6, anywhere) => {
      const table = readCountryTable(buildCountryTable(csv(v4), csv(v6), "generated"));
      for (const address of probes(v4, 32n)) expect(table.countryOf(ipv4(address))).toBe(reference(v4, address));
      for (const address of [...probes(v6, 128n), ...anywhere]) expect(table.countryOf(ipv6(address))).toBe(reference(v6, address));
    }),
    { numRuns: 300 },
  );
});

test("the table names its source, and is read where it lies, also at an unaligned offset", () => {
  const bytes = buildCountryTable("0,9,DE\n20,29,FR", "0,99,JP", "@ip-location-db/dbip-country 2.3.2026060120");
  const unaligned = new Uint8Array(bytes.length + 1);
  unaligned.set(bytes, 1);
  const table = readCountryTable(unaligned.subarray(1));
  expect(table.source).toBe("@ip-location-db/dbip-country 2.3.2026060120");
  expect([5n, 15n, 25n, 30n].map((address) => table.countryOf(ipv4(address)))).toEqual(["DE", null, "FR", null]);
  expect(table.countryOf(ipv6(99n))).toBe("JP");
});

describe.each([
  ["overlapping ranges", "0,10,DE\n5,20,FR", /overlaps/],
  ["ranges out of order", "20,30,DE\n0,10,FR", /out of order/],
  ["a range that ends before it starts", "10,5,DE", /out of order/],
  ["an IPv4 range beyond 32 bits", "0,4294967296,DE", /out of range/],
  ["a country that is not two capital letters", "0,10,de", /two-letter country code/],
  ["a row without a country", "0,10", /two-letter country code/],
])("a database with %s", (_, ipv4Csv, message) => {
  test("is refused rather than answer wrongly", () => {
    expect(() => buildCountryTable(ipv4Csv, "", "bad")).toThrow(message);
  });
});

test("bytes that are not a table of this format are refused", () => {
  const table = buildCountryTable("0,9,DE", "0,9,DE", "x");
  expect(() => readCountryTable(new Uint8Array(40))).toThrow(/not a country table/);
  for (const cut of [1, 8, table.length / 2]) expect(() => readCountryTable(table.subarray(0, table.length - cut))).toThrow(/not as long as its header says/);
});
