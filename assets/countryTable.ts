import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { buildCountryTable, readCountryTable } from "../core/country";
import type { CountryTable } from "../core/country";

/**
 * The IP-to-country data: DB-IP's "IP to Country Lite" database as published on npm by
 * ip-location-db (CC BY 4.0; attribution: "IP Geolocation by DB-IP", https://db-ip.com). The
 * package holds CSV files; the core reads a compact table built from them (core/country.ts).
 * Building takes about a second, so the table is kept in node_modules/.cache per package version:
 * the function bundle deploys that file, and the local pipeline and the commands read it.
 */
export const COUNTRY_DATA_PACKAGE = "@ip-location-db/dbip-country";

const packageDir = path.dirname(require.resolve(`${COUNTRY_DATA_PACKAGE}/package.json`));
const { version } = JSON.parse(readFileSync(path.join(packageDir, "package.json"), "utf8")) as { version: string };
/** The package version ends with the data's date: 2.3.2026060120 is the data of 2026-06-01. */
export const COUNTRY_DATA_SOURCE = `${COUNTRY_DATA_PACKAGE} ${version}`;

const CACHE_FILE = path.join(packageDir, "..", "..", ".cache", "pixel-pipeline", `dbip-country-${version}.bin`);

/** The built table's file and the table read from it; built first if this version's is missing or unreadable. */
function cachedTable(): { file: string; table: CountryTable } {
  try {
    return { file: CACHE_FILE, table: readCountryTable(readFileSync(CACHE_FILE)) };
  } catch {
    const bytes = buildCountryTable(
      readFileSync(path.join(packageDir, "dbip-country-ipv4-num.csv"), "utf8"),
      readFileSync(path.join(packageDir, "dbip-country-ipv6-num.csv"), "utf8"),
      COUNTRY_DATA_SOURCE,
    );
    mkdirSync(path.dirname(CACHE_FILE), { recursive: true });
    // Written aside and renamed, so a concurrent reader (another test worker) never sees half a file.
    const partial = `${CACHE_FILE}.${process.pid}.partial`;
    writeFileSync(partial, bytes);
    renameSync(partial, CACHE_FILE);
    return { file: CACHE_FILE, table: readCountryTable(bytes) };
  }
}

/** The file the function bundle deploys. */
export function countryTableFile(): string {
  return cachedTable().file;
}

/** The table, ready for the core. */
export function loadCountryTable(): CountryTable {
  return cachedTable().table;
}

/**
 * The table, read at its first use rather than now. For settings that a process may only pass on:
 * the local server's front end hands them to its loader process, which reads a table of its own, so
 * the front end need not hold the table's 7.7 MB.
 */
export function countryTableOnFirstUse(load: () => CountryTable = loadCountryTable): CountryTable {
  let table: CountryTable | undefined;
  const loaded = (): CountryTable => (table ??= load());
  return {
    countryOf: (ip) => loaded().countryOf(ip),
    get source() {
      return loaded().source;
    },
  };
}
