import { parseClientAddress, storedIp } from "../../core/ip";

describe.each<[unknown, string | null, string | null]>([
  ["203.0.113.77", "203.0.113.0", "203.0.113.77"],
  ["203.0.113.77:51234", "203.0.113.0", "203.0.113.77"],
  ["2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::", "2001:db8:abcd:12:1:2:3:4"],
  ["[2001:DB8::7]:8443", "2001:db8::", "2001:db8::7"],
  ["::ffff:198.51.100.9", "198.51.100.0", "198.51.100.9"],
  ["::1", "::", "::1"],
  ["fe80::1%eth0", "fe80::", "fe80::1"],
  ["999.1.1.1", null, null],
  ["", null, null],
  [42, null, null],
])("client IP %p", (value, anonymized, whole) => {
  it("loses its port, and its host part when anonymised", () => {
    expect(storedIp(parseClientAddress(value), true)).toBe(anonymized);
    expect(storedIp(parseClientAddress(value), false)).toBe(whole);
  });
});
