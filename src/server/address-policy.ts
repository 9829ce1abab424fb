import net from "node:net";

/**
 * What kind of network an IP address belongs to. Everything except "public" is refused for image URLs
 * unless the operator allows private URLs: these are the addresses a server-side request forgery aims at
 * (cloud metadata at 169.254.169.254, admin consoles on loopback, services on the LAN).
 */
export type AddressKind =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "unspecified"
  | "shared"
  | "multicast"
  | "reserved"
  | "invalid";

/** Human wording for error messages, e.g. "a loopback address". */
export function describeAddressKind(kind: AddressKind): string {
  switch (kind) {
    case "public":
      return "a public address";
    case "loopback":
      return "a loopback address";
    case "private":
      return "a private-network address";
    case "link-local":
      return "a link-local address";
    case "unspecified":
      return "the unspecified address";
    case "shared":
      return "a carrier-grade NAT address";
    case "multicast":
      return "a multicast address";
    case "reserved":
      return "a reserved or documentation address";
    case "invalid":
      return "an invalid address";
  }
}

interface Range4 {
  base: number;
  prefix: number;
  kind: AddressKind;
}

function ipv4ToInt(address: string): number {
  const [a, b, c, d] = address.split(".").map(Number) as [number, number, number, number];
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function range4(cidr: string, kind: AddressKind): Range4 {
  const [base, prefix] = cidr.split("/") as [string, string];
  return { base: ipv4ToInt(base), prefix: Number(prefix), kind };
}

// IANA special-purpose registry, reduced to what must never be fetched from a server.
const IPV4_RANGES: Range4[] = [
  range4("0.0.0.0/8", "unspecified"),
  range4("10.0.0.0/8", "private"),
  range4("100.64.0.0/10", "shared"),
  range4("127.0.0.0/8", "loopback"),
  range4("169.254.0.0/16", "link-local"),
  range4("172.16.0.0/12", "private"),
  range4("192.0.0.0/24", "reserved"),
  range4("192.0.2.0/24", "reserved"),
  range4("192.88.99.0/24", "reserved"),
  range4("192.168.0.0/16", "private"),
  range4("198.18.0.0/15", "reserved"),
  range4("198.51.100.0/24", "reserved"),
  range4("203.0.113.0/24", "reserved"),
  range4("224.0.0.0/4", "multicast"),
  range4("240.0.0.0/4", "reserved"),
];

function classifyIpv4Int(value: number): AddressKind {
  for (const { base, prefix, kind } of IPV4_RANGES) {
    const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
    if (((value & mask) >>> 0) === ((base & mask) >>> 0)) return kind;
  }
  return "public";
}

/** Eight 16-bit groups of an IPv6 address, or undefined when it does not parse. */
function parseIpv6(address: string): number[] | undefined {
  let text = address;
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  // A dotted IPv4 tail (::ffff:1.2.3.4) stands for the last two groups.
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!net.isIPv4(tail)) return undefined;
    const v4 = ipv4ToInt(tail);
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const groups = part.split(":").map((group) => (/^[0-9a-f]{1,4}$/i.test(group) ? parseInt(group, 16) : NaN));
    return groups.some(Number.isNaN) ? undefined : groups;
  };
  const head = parseGroups(halves[0]!);
  const rest = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === undefined || rest === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - rest.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...rest];
}

function classifyIpv6(groups: number[]): AddressKind {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  const embeddedV4 = ((g6 << 16) | g7) >>> 0;
  const firstFiveZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (firstFiveZero && g5 === 0 && g6 === 0) {
    if (g7 === 0) return "unspecified";
    if (g7 === 1) return "loopback";
  }
  // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms reach the IPv4 host.
  if (firstFiveZero && (g5 === 0xffff || g5 === 0)) return classifyIpv4Int(embeddedV4);
  // NAT64 well-known prefix 64:ff9b::/96 translates to the embedded IPv4 address.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return classifyIpv4Int(embeddedV4);
  // Local-use NAT64 64:ff9b:1::/48 only exists inside a site.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return "private";
  // 6to4 2002::/16 embeds an IPv4 address in groups 1-2.
  if (g0 === 0x2002) return classifyIpv4Int(((g1 << 16) | g2) >>> 0);
  if ((g0 & 0xfe00) === 0xfc00) return "private"; // fc00::/7 unique local
  if ((g0 & 0xffc0) === 0xfe80) return "link-local"; // fe80::/10
  if ((g0 & 0xffc0) === 0xfec0) return "private"; // fec0::/10 deprecated site-local
  if ((g0 & 0xff00) === 0xff00) return "multicast"; // ff00::/8
  if (g0 === 0x2001 && g1 === 0x0db8) return "reserved"; // documentation
  if (g0 === 0x2001 && g1 === 0) return "reserved"; // Teredo hides an IPv4 peer
  if (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) return "reserved"; // discard-only 100::/64
  if (g0 === 0) return "reserved"; // rest of ::/16 has no global unicast
  return "public";
}

/** Classifies a literal IPv4 or IPv6 address (IPv6 may carry a zone id and must not carry brackets). */
export function classifyAddress(address: string): AddressKind {
  if (net.isIPv4(address)) return classifyIpv4Int(ipv4ToInt(address));
  if (net.isIPv6(address)) {
    const groups = parseIpv6(address);
    return groups === undefined ? "invalid" : classifyIpv6(groups);
  }
  return "invalid";
}

export function isPublicAddress(address: string): boolean {
  return classifyAddress(address) === "public";
}
