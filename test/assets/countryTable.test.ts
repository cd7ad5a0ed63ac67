import { readFileSync } from "node:fs";
import * as path from "node:path";
import { COUNTRY_DATA_SOURCE, countryTableFile, countryTableOnFirstUse, loadCountryTable } from "../../assets/countryTable";
import { parseClientAddress } from "../../core/ip";

// The table the function deploys and the local tools read, built from the installed DB-IP data.
let table: ReturnType<typeof loadCountryTable>;
beforeAll(() => {
  table = loadCountryTable();
});
const countryOf = (address: string) => {
  const parsed = parseClientAddress(address);
  if (!parsed) throw new Error(`${address} is not an address`);
  return table.countryOf(parsed.ip);
};

test("is built from the pinned DB-IP package, once per version, into node_modules/.cache", () => {
  expect(table.source).toBe("@ip-location-db/dbip-country 2.3.2026060120");
  expect(COUNTRY_DATA_SOURCE).toBe(table.source);
  expect(countryTableFile()).toMatch(/node_modules\/\.cache\/pixel-pipeline\/dbip-country-2\.3\.2026060120\.bin$/);
});

describe.each([
  // Each with the DB-IP row that holds it.
  ["8.8.8.8", "US"], // 8.7.245.0-8.8.235.255
  ["1.1.1.1", "AU"], // 1.1.1.0-1.1.1.255
  ["193.99.144.80", "DE"], // heise.de
  ["212.27.48.10", "FR"], // free.fr
  ["210.130.1.1", "JP"], // IIJ
  ["2a00:1450:4001:80b::200e", "DE"],
  ["2a01:e0a::1", "FR"],
  ["2001:200::1", "JP"],
  // As the load balancer logs addresses: with a port, bracketed with a port, IPv4-mapped, with a zone.
  ["193.99.144.80:51234", "DE"],
  ["[2a01:e0a::1]:443", "FR"],
  ["::ffff:193.99.144.80", "DE"],
  ["::ffff:c163:9050", "DE"],
  // Never a country: private, loopback, shared, link-local, unique-local, documentation, unspecified.
  ["10.1.2.3", null],
  ["172.16.0.1", null],
  ["192.168.1.1", null],
  ["127.0.0.1", null],
  ["100.64.0.1", null],
  ["169.254.1.1", null],
  ["0.0.0.0", null],
  ["255.255.255.255", null],
  ["::1", null],
  ["::", null],
  ["fe80::1%eth0", null],
  ["fd12:3456::1", null],
  ["::ffff:10.0.0.1", null],
])("%s", (address, country) => {
  test(`is ${country ?? "no country"}`, () => {
    expect(countryOf(address)).toBe(country);
  });
});

test("agrees with DB-IP's own CSV at the first and last address of thousands of its ranges", () => {
  const packageDir = path.dirname(require.resolve("@ip-location-db/dbip-country/package.json"));
  for (const file of ["dbip-country-ipv4.csv", "dbip-country-ipv6.csv"]) {
    const rows = readFileSync(path.join(packageDir, file), "utf8").trim().split("\n");
    expect(rows.length).toBeGreaterThan(300_000);
    // The textual files, not the numeric ones the table is built from: the address parser is checked too.
    for (let index = 0; index < rows.length; index += 97) {
      const [first, last, country] = rows[index].split(",");
      expect([first, last, countryOf(first), countryOf(last)]).toEqual([first, last, country, country]);
    }
  }
});

test("countryTableOnFirstUse reads the table once, at its first lookup or source, and answers as the table does", () => {
  const load = jest.fn(loadCountryTable);
  const onFirstUse = countryTableOnFirstUse(load);
  expect(load).not.toHaveBeenCalled();
  const address = parseClientAddress("193.99.144.80");
  if (!address) throw new Error("193.99.144.80 is an address");
  expect(onFirstUse.countryOf(address.ip)).toBe("DE");
  expect(onFirstUse.source).toBe(table.source);
  expect(onFirstUse.countryOf(address.ip)).toBe("DE");
  expect(load).toHaveBeenCalledTimes(1);
  expect(countryTableOnFirstUse(load).source).toBe(table.source);
  expect(load).toHaveBeenCalledTimes(2);
});
