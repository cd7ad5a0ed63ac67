/**
 * IP addresses as the load balancer logs them, parsed here rather than with node:net so that the
 * core stays free of I/O modules, and so that one parse gives both the text to store and the
 * numbers a lookup needs.
 */
export type ParsedIp = { readonly version: 4; readonly value: number } | { readonly version: 6; readonly groups: readonly number[] };

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** A dotted IPv4 address as an unsigned 32-bit number; no leading zeros, as inet_pton reads it. */
export function parseIPv4(text: string): number | undefined {
  const match = IPV4.exec(text);
  if (!match) return undefined;
  return ((Number(match[1]) << 24) | (Number(match[2]) << 16) | (Number(match[3]) << 8) | Number(match[4])) >>> 0;
}

/** An IPv6 address (RFC 4291 text forms, a dotted IPv4 tail included) as its eight 16-bit groups. */
export function parseIPv6(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  // A dotted IPv4 part may only end the address: the tail, or the whole address without "::".
  const head = groupsOf(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groupsOf(halves[1], true) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  // "::" stands for at least one zero group.
  const zeros = 8 - head.length - tail.length;
  return zeros >= 1 ? [...head, ...Array<number>(zeros).fill(0), ...tail] : undefined;
}

/** The groups of one side of "::"; a dotted IPv4 address may end it only when it ends the address. */
function groupsOf(side: string, endsAddress: boolean): number[] | undefined {
  if (side === "") return [];
  const parts = side.split(":");
  const groups: number[] = [];
  for (const [index, part] of parts.entries()) {
    if (HEX_GROUP.test(part)) {
      groups.push(parseInt(part, 16));
      continue;
    }
    const v4 = endsAddress && index === parts.length - 1 ? parseIPv4(part) : undefined;
    if (v4 === undefined) return undefined;
    groups.push(v4 >>> 16, v4 & 0xffff);
  }
  return groups;
}

/** `::ffff:a.b.c.d` (or its hex form): an IPv4 client seen through an IPv6 socket. */
function mappedIPv4(groups: readonly number[]): number | undefined {
  const mapped = groups[5] === 0xffff && groups.slice(0, 5).every((group) => group === 0);
  return mapped ? ((groups[6] << 16) | groups[7]) >>> 0 : undefined;
}

export function formatIPv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** The client's address, or undefined when the value is not an IP address at all. */
export interface ClientAddress {
  /** The address as it will be stored in full: without port, zone or brackets, lower case; IPv4 for a mapped IPv4. */
  readonly text: string;
  readonly ip: ParsedIp;
}

/** The load balancer's remoteIp is "1.2.3.4", "1.2.3.4:5678", an IPv6 address, or "[v6]:port". */
export function parseClientAddress(value: unknown): ClientAddress | undefined {
  if (typeof value !== "string") return undefined;
  const address = withoutPort(value.trim());
  const v4 = parseIPv4(address);
  if (v4 !== undefined) return { text: address, ip: { version: 4, value: v4 } };
  const v6Text = address.replace(/%.*$/, "").toLowerCase();
  const groups = parseIPv6(v6Text);
  if (!groups) return undefined;
  const mapped = mappedIPv4(groups);
  return mapped === undefined ? { text: v6Text, ip: { version: 6, groups } } : { text: formatIPv4(mapped), ip: { version: 4, value: mapped } };
}

function withoutPort(value: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) return bracketed[1];
  const v4WithPort = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(value);
  return v4WithPort ? v4WithPort[1] : value;
}

/**
 * The client IP as stored: the address without port, cut to /24 (IPv4) or /48 (IPv6) when
 * anonymising, or null when there was no IP address at all.
 */
export function storedIp(address: ClientAddress | undefined, anonymize: boolean): string | null {
  if (!address) return null;
  return anonymize ? anonymizedIp(address.ip) : address.text;
}

export function anonymizedIp(ip: ParsedIp): string {
  if (ip.version === 4) return formatIPv4((ip.value & 0xffffff00) >>> 0);
  // The /48 prefix in canonical form: trailing zero groups fold into the "::".
  const prefix = ip.groups.slice(0, 3).map((group) => group.toString(16));
  while (prefix.at(-1) === "0") prefix.pop();
  return `${prefix.join(":")}::`;
}
