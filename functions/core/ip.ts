import { isIPv4, isIPv6 } from "node:net";

/**
 * The load balancer's remoteIp is "1.2.3.4", "1.2.3.4:5678", an IPv6 address, or "[v6]:port".
 * Returns the address without port, cut to /24 (IPv4) or /48 (IPv6) when anonymising,
 * or null when the value is not an IP address at all.
 */
export function clientIp(value: unknown, anonymize: boolean): string | null {
  if (typeof value !== "string") return null;
  const address = withoutPort(value.trim());
  if (isIPv4(address)) return anonymize ? anonymizeIPv4(address) : address;
  const v6 = address.replace(/%.*$/, "").toLowerCase();
  if (!isIPv6(v6)) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
  if (mapped) return anonymize ? anonymizeIPv4(mapped[1]) : mapped[1];
  return anonymize ? anonymizeIPv6(v6) : v6;
}

function withoutPort(value: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) return bracketed[1];
  const v4WithPort = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(value);
  return v4WithPort ? v4WithPort[1] : value;
}

function anonymizeIPv4(address: string): string {
  return address.replace(/\.\d+$/, ".0");
}

/** The /48 prefix in canonical form: trailing zero groups fold into the "::". */
function anonymizeIPv6(address: string): string {
  const groups = expandIPv6(address).slice(0, 3).map((group) => parseInt(group, 16).toString(16));
  while (groups.at(-1) === "0") groups.pop();
  return `${groups.join(":")}::`;
}

/** Eight hex groups; an embedded dotted IPv4 tail becomes two groups. */
function expandIPv6(address: string): string[] {
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  const hex = dotted
    ? address.slice(0, dotted.index) +
      [((+dotted[1] << 8) | +dotted[2]).toString(16), ((+dotted[3] << 8) | +dotted[4]).toString(16)].join(":")
    : address;
  const [head, tail] = hex.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const zeros = tail === undefined ? [] : Array(8 - headGroups.length - tailGroups.length).fill("0");
  return [...headGroups, ...zeros, ...tailGroups];
}
