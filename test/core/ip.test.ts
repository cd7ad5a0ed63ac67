import fc from "fast-check";
import { isIPv6 } from "node:net";
import { parseClientAddress, parseIPv6, storedIp } from "../../core/ip";

describe.each<[unknown, string | null, string | null]>([
  ["203.0.113.77", "203.0.113.0", "203.0.113.77"],
  ["203.0.113.77:51234", "203.0.113.0", "203.0.113.77"],
  ["2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::", "2001:db8:abcd:12:1:2:3:4"],
  ["[2001:DB8::7]:8443", "2001:db8::", "2001:db8::7"],
  ["::ffff:198.51.100.9", "198.51.100.0", "198.51.100.9"],
  ["::1", "::", "::1"],
  ["fe80::1%eth0", "fe80::", "fe80::1"],
  // "::" inside the first three groups: the /48 prefix keeps the zero group it stands for.
  ["1::2:3:4:5:6:7", "1:0:2::", "1::2:3:4:5:6:7"],
  ["::2:3:4:5:6:7:8", "0:2:3::", "::2:3:4:5:6:7:8"],
  ["1:2::3", "1:2::", "1:2::3"],
  ["[2001:db8::1]", "2001:db8::", "2001:db8::1"],
  // A dotted tail that is not ::ffff: stays IPv6; only a mapped address becomes IPv4.
  ["1::ffff:1.2.3.4", "1::", "1::ffff:1.2.3.4"],
  ["64:ff9b::89.160.20.156", "64:ff9b::", "64:ff9b::89.160.20.156"],
  ["::ffff:c633:6409", "198.51.100.0", "198.51.100.9"],
  ["1:2:3:4:5:6:1.2.3.4", "1:2:3::", "1:2:3:4:5:6:1.2.3.4"],
  // A dotted IPv4 part anywhere but at the end is no address (inet_pton refuses it too).
  ["1.2.3.4::", null, null],
  ["1:1.2.3.4::5", null, null],
  ["::1.2.3.4:5", null, null],
  ["1:2:3:4:5:6:7:1.2.3.4", null, null],
  // Junk before or after an address: each anchor of the address forms matters.
  ["x203.0.113.77", null, null],
  ["x203.0.113.77:443", null, null],
  ["203.0.113.77:443x", null, null],
  ["x[2001:db8::1]:443", null, null],
  ["[2001:db8::1]:443x", null, null],
  ["203.0.113.77 junk", null, null],
  // Whitespace around the whole value is trimmed; within it, it is junk (above).
  [" 203.0.113.77:443\n", "203.0.113.0", "203.0.113.77"],
  ["\t2001:db8::1 ", "2001:db8::", "2001:db8::1"],
  ["999.1.1.1", null, null],
  ["", null, null],
  [42, null, null],
])("client IP %p", (value, anonymized, whole) => {
  it("loses its port, and its host part when anonymised", () => {
    expect(storedIp(parseClientAddress(value), true)).toBe(anonymized);
    expect(storedIp(parseClientAddress(value), false)).toBe(whole);
  });
});

test("an IPv6 text parses exactly when inet_pton (node:net) reads it as one", () => {
  const part = fc.oneof(
    fc.integer({ min: 0, max: 0xffff }).map((group) => group.toString(16)),
    fc.stringMatching(/^[0-9a-fA-F]{1,5}$/),
    fc.constantFrom("", "1.2.3.4", "255.255.255.255", "01.2.3.4", "1.2.3", "g"),
  );
  const nearIPv6 = fc.array(fc.oneof({ weight: 6, arbitrary: part }, { weight: 1, arbitrary: fc.constant(":") }), { maxLength: 10 }).map((parts) => parts.join(":"));
  fc.assert(
    fc.property(nearIPv6, (text) => {
      expect(parseIPv6(text) !== undefined).toBe(isIPv6(text));
    }),
    { numRuns: 20_000 },
  );
});
