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

/** The table's first header word, "PXCC". */
const MAGIC = 0x43435850;

/** A table's header words with one of them changed, and its length, to build refusals from. */
function withHeader(table: Uint8Array, word: number, value: number, length = table.length): Uint8Array {
  const copy = new Uint8Array(length);
  copy.set(table.subarray(0, Math.min(length, table.length)));
  new DataView(copy.buffer).setUint32(4 * word, value, true);
  return copy;
}

/** A well-formed layout with no IPv4 ranges: the header agrees with the length, and still no table. */
function withoutIpv4Ranges(): Uint8Array {
  // Header (24 bytes), no source, one code (2 bytes, padded to 28), one IPv6 start (16), one country (1).
  const bytes = new Uint8Array(28 + 16 + 1);
  [MAGIC, 1, 0, 1, 1, 0].forEach((value, word) => new DataView(bytes.buffer).setUint32(4 * word, value, true));
  return bytes;
}

describe("bytes that are not a whole table", () => {
  test.each<[string, (table: Uint8Array) => Uint8Array, RegExp]>([
    ["the header cut short", (table) => table.subarray(0, 20), /not a country table/],
    ["another magic number", (table) => withHeader(table, 0, MAGIC + 1), /not a country table/],
    ["another format", (table) => withHeader(table, 1, 2), /not a country table/],
    ["no IPv4 ranges", withoutIpv4Ranges, /not as long as its header says/],
    // Its two IPv6 ranges (DE from 0, unknown after) are 2 × 16 bytes of starts and 2 of countries.
    ["no IPv6 ranges", (table) => withHeader(table, 3, 0, table.length - 34), /not as long as its header says/],
    ["one byte more than the header says", (table) => withHeader(table, 0, MAGIC, table.length + 1), /not as long as its header says/],
  ])("%s: refused", (_name, spoil, message) => {
    const table = buildCountryTable("0,9,DE", "0,9,DE", "x");
    expect(() => readCountryTable(spoil(table))).toThrow(message);
  });
});

describe("building a table", () => {
  const ranges = (table: Uint8Array) => [2, 3].map((word) => new DataView(table.buffer, table.byteOffset).getUint32(4 * word, true));

  test("keeps one range per run of one country and one per gap, from the first address to the last", () => {
    // IPv4: DE 0–19 (two rows), a gap, FR 30–39, a gap to the end. IPv6: JP over the whole space.
    const table = buildCountryTable("0,9,DE\n10,19,DE\n30,39,FR", `0,${(1n << 128n) - 1n},JP`, "x");
    expect(ranges(table)).toEqual([4, 1]);
    const read = readCountryTable(table);
    expect([0n, 19n, 20n, 30n, 40n, 4294967295n].map((address) => read.countryOf(ipv4(address)))).toEqual(["DE", "DE", null, "FR", null, null]);
    expect(read.countryOf(ipv6((1n << 128n) - 1n))).toBe("JP");
  });

  test("covers the last address of a family when a row ends there", () => {
    const read = readCountryTable(buildCountryTable("0,4294967295,DE", "0,9,DE", "x"));
    expect([0n, 4294967295n].map((address) => read.countryOf(ipv4(address)))).toEqual(["DE", "DE"]);
  });

  test("reads rows with spaces, blank lines and CRLF line ends", () => {
    const read = readCountryTable(buildCountryTable(" 0,9,DE \r\n   \r\n10,19,FR\r\n", "0,9,JP\n\n", "x"));
    expect([5n, 15n].map((address) => read.countryOf(ipv4(address)))).toEqual(["DE", "FR"]);
  });

  test("shares a country's code among its ranges, so many ranges of few countries fit", () => {
    const rows = Array.from({ length: 600 }, (_, row) => `${2 * row},${2 * row},${row % 2 === 0 ? "DE" : "FR"}`).join("\n");
    const read = readCountryTable(buildCountryTable(rows, "0,9,JP", "x"));
    expect([0n, 1n, 2n, 1196n, 1198n, 1199n].map((address) => read.countryOf(ipv4(address)))).toEqual(["DE", null, "FR", "DE", "FR", null]);
  });

  test("fits 255 countries, the most one byte per range can name beside unknown, and refuses a 256th", () => {
    const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const database = (count: number) => Array.from({ length: count }, (_, row) => `${row},${row},${letters[Math.floor(row / 26)]}${letters[row % 26]}`).join("\n");
    expect(readCountryTable(buildCountryTable(database(255), "0,9,JP", "x")).countryOf(ipv4(254n))).toBe("JU");
    expect(() => buildCountryTable(database(256), "0,9,JP", "x")).toThrow("256 countries: the table has room for 255");
  });

  test("names the line it refuses, counting from 1", () => {
    expect(() => buildCountryTable("0,9,DE\n\n5,20,FR", "", "x")).toThrow("line 3 (5,20,FR) overlaps the range before it, or is out of order or out of range");
    expect(() => buildCountryTable("0,9,DE\n10,19,de", "", "x")).toThrow("line 2 (10,19,de) has no two-letter country code");
  });
});
