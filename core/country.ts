import type { ParsedIp } from "./ip";

/**
 * IP address → ISO 3166-1 alpha-2 country, from a compact table that the adapters build once from
 * an IP-to-country database (DB-IP's "IP to Country Lite", CC BY 4.0, as its CSV files with
 * numeric ranges) and hand to the core as bytes. Pure: no I/O; the function reads the table from
 * a file next to its bundle, the local tools from a cache (assets/countryTable.ts).
 *
 * The table holds sorted range starts and each range's country, with an "unknown" range for
 * every gap of the database (private, loopback, reserved and unallocated space), so a lookup is
 * one binary search over numbers and never needs the ends. Layout, little-endian, each array
 * 4-byte aligned:
 *   "PXCC" | u32 format | u32 n4 | u32 n6 | u32 codes | u32 sourceLength | source (UTF-8)
 *   | codes × 2 ASCII bytes (code 0 = unknown) | u32 starts4[n4] | u32 starts6[4·n6] (most
 *   significant word first) | u8 country4[n4] | u8 country6[n6]
 */

export interface CountryTable {
  /** The country of an address, or null where the database knows none: private, loopback, reserved, unallocated. */
  countryOf(ip: ParsedIp): string | null;
  /** Where the data comes from, e.g. "@ip-location-db/dbip-country 2.3.2026060120". */
  readonly source: string;
}

const MAGIC = 0x43435850; // "PXCC"
const FORMAT = 1;
const HEADER_WORDS = 6;
const COUNTRY_CODE = /^[A-Z]{2}$/;
/** One byte per range's country: 0 for unknown, so at most 255 codes. */
const MAX_CODES = 256;

/** Reads a table built by buildCountryTable without copying it; throws when the bytes are not one. */
export function readCountryTable(bytes: Uint8Array): CountryTable {
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error("the country table is little-endian, and this machine is not");
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  const view = new DataView(aligned.buffer, aligned.byteOffset, aligned.byteLength);
  if (aligned.byteLength < HEADER_WORDS * 4 || view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== FORMAT) {
    throw new Error("not a country table of this format: rebuild it (assets/countryTable.ts)");
  }
  const [ipv4Count, ipv6Count, codeCount, sourceLength] = [2, 3, 4, 5].map((word) => view.getUint32(4 * word, true));
  const codesOffset = align(HEADER_WORDS * 4 + sourceLength);
  const starts4Offset = align(codesOffset + 2 * codeCount);
  const starts6Offset = starts4Offset + 4 * ipv4Count;
  const countries4Offset = starts6Offset + 16 * ipv6Count;
  if (ipv4Count === 0 || ipv6Count === 0 || aligned.byteLength !== countries4Offset + ipv4Count + ipv6Count) {
    throw new Error("the country table is not as long as its header says: rebuild it (assets/countryTable.ts)");
  }
  const source = new TextDecoder().decode(aligned.subarray(HEADER_WORDS * 4, HEADER_WORDS * 4 + sourceLength));
  const codes: (string | null)[] = [null];
  for (let code = 1; code < codeCount; code++) codes.push(String.fromCharCode(aligned[codesOffset + 2 * code], aligned[codesOffset + 2 * code + 1]));
  const starts4 = new Uint32Array(aligned.buffer, aligned.byteOffset + starts4Offset, ipv4Count);
  const starts6 = new Uint32Array(aligned.buffer, aligned.byteOffset + starts6Offset, 4 * ipv6Count);
  const countries4 = aligned.subarray(countries4Offset, countries4Offset + ipv4Count);
  const countries6 = aligned.subarray(countries4Offset + ipv4Count);

  const words = new Uint32Array(4);
  /** Whether range `index` of the IPv6 starts begins at or before `words`. */
  const startsAtOrBefore = (index: number): boolean => {
    for (let word = 0; word < 4; word++) {
      const start = starts6[4 * index + word];
      if (start !== words[word]) return start < words[word];
    }
    return true;
  };
  // The last range whose start is at or before the address; the first range starts at 0.
  const lastRange = (count: number, atOrBefore: (index: number) => boolean): number => {
    let low = 0;
    let high = count - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (atOrBefore(middle)) low = middle;
      else high = middle - 1;
    }
    return low;
  };
  return {
    source,
    countryOf(ip) {
      if (ip.version === 4) return codes[countries4[lastRange(ipv4Count, (index) => starts4[index] <= ip.value)]];
      for (let word = 0; word < 4; word++) words[word] = ((ip.groups[2 * word] << 16) | ip.groups[2 * word + 1]) >>> 0;
      return codes[countries6[lastRange(ipv6Count, startsAtOrBefore)]];
    },
  };
}

/**
 * Builds the table from the database's two CSV files of `start,end,country` rows with numeric
 * addresses (`dbip-country-ipv4-num.csv`, `…-ipv6-num.csv`). Throws on rows that overlap or are
 * out of order, or on a country that is not two capital letters, rather than answer wrongly.
 */
export function buildCountryTable(ipv4Csv: string, ipv6Csv: string, source: string): Uint8Array {
  const codes = [""];
  const codeIndex = new Map<string, number>();
  const indexOf = (country: string): number => {
    let index = codeIndex.get(country);
    if (index === undefined) {
      index = codes.push(country) - 1;
      codeIndex.set(country, index);
    }
    return index;
  };
  const ipv4 = compactRanges(ipv4Csv, 32n, indexOf);
  const ipv6 = compactRanges(ipv6Csv, 128n, indexOf);
  if (codes.length > MAX_CODES) throw new Error(`${codes.length - 1} countries: the table has room for ${MAX_CODES - 1}`);

  const sourceBytes = new TextEncoder().encode(source);
  const codesOffset = align(HEADER_WORDS * 4 + sourceBytes.length);
  const starts4Offset = align(codesOffset + 2 * codes.length);
  const starts6Offset = starts4Offset + 4 * ipv4.starts.length;
  const countries4Offset = starts6Offset + 16 * ipv6.starts.length;
  const bytes = new Uint8Array(countries4Offset + ipv4.starts.length + ipv6.starts.length);
  const view = new DataView(bytes.buffer);
  [MAGIC, FORMAT, ipv4.starts.length, ipv6.starts.length, codes.length, sourceBytes.length].forEach((value, word) => view.setUint32(4 * word, value, true));
  bytes.set(sourceBytes, HEADER_WORDS * 4);
  codes.forEach((code, index) => bytes.set(new TextEncoder().encode(code.padEnd(2, "\0")), codesOffset + 2 * index));
  ipv4.starts.forEach((start, index) => view.setUint32(starts4Offset + 4 * index, Number(start), true));
  ipv6.starts.forEach((start, index) => {
    for (let word = 0; word < 4; word++) view.setUint32(starts6Offset + 16 * index + 4 * word, Number((start >> BigInt(96 - 32 * word)) & 0xffffffffn), true);
  });
  bytes.set(ipv4.countries, countries4Offset);
  bytes.set(ipv6.countries, countries4Offset + ipv4.starts.length);
  return bytes;
}

/** The ranges as starts and country indexes, gaps filled with unknown (0) and equal neighbours merged, covering the whole address space from 0. */
function compactRanges(csv: string, bits: bigint, indexOf: (country: string) => number): { starts: bigint[]; countries: Uint8Array } {
  const starts: bigint[] = [];
  const countries: number[] = [];
  const add = (start: bigint, country: number) => {
    if (countries.at(-1) === country) return;
    starts.push(start);
    countries.push(country);
  };
  let next = 0n;
  for (const [lineIndex, line] of csv.split("\n").entries()) {
    if (line.trim() === "") continue;
    const [first, last, country] = line.trim().split(",");
    const start = BigInt(first);
    const end = BigInt(last);
    if (start < next || end < start || end >= 1n << bits) throw new Error(`line ${lineIndex + 1} (${line}) overlaps the range before it, or is out of order or out of range`);
    if (!COUNTRY_CODE.test(country)) throw new Error(`line ${lineIndex + 1} (${line}) has no two-letter country code`);
    if (start > next) add(next, 0);
    add(start, indexOf(country));
    next = end + 1n;
  }
  if (next < 1n << bits) add(next, 0);
  return { starts, countries: Uint8Array.from(countries) };
}

function align(offset: number): number {
  return (offset + 3) & ~3;
}
