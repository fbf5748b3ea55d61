import { isIPv4, isIPv6 } from 'node:net';

/**
 * How far to trust the `X-Forwarded-For` header: the number of proxies of yours that sit in front
 * of the server and each append the address they received the request from.
 *
 * - `0` (the default): the header is ignored; the client is the socket's peer address.
 * - `n`: the client is the `n`-th address from the right of the chain `X-Forwarded-For + peer`.
 *   Entries further left were written by the client itself and are never read, so a spoofed
 *   header cannot change the identity the limit is counted against.
 *
 * @example
 * ```ts
 * import type { TrustProxy } from '@hyx/http';
 * const behindOneLoadBalancer: TrustProxy = 1;
 * ```
 */
export type TrustProxy = number;

/**
 * The client address of a request, given the socket's peer address and the `X-Forwarded-For`
 * header, trusting exactly `trustProxy` hops. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are
 * reported as IPv4; an IPv6 client is reduced to its `/ipv6PrefixLength` network, because one
 * host usually owns a whole /64 (or more) and could otherwise rotate addresses to escape a limit.
 *
 * @returns the address, or `undefined` when the peer address is unknown (a closed socket).
 *
 * @example
 * ```ts
 * import { clientIp } from '@hyx/http';
 * clientIp({ remoteAddress: '10.0.0.2', forwardedFor: '6.6.6.6, 203.0.113.7', trustProxy: 1 }); // '203.0.113.7'
 * clientIp({ remoteAddress: '10.0.0.2', forwardedFor: '6.6.6.6', trustProxy: 0 }); // '10.0.0.2'
 * ```
 */
export function clientIp(request: {
  readonly remoteAddress: string | undefined;
  readonly forwardedFor?: string | readonly string[] | undefined;
  readonly trustProxy?: TrustProxy | undefined;
  readonly ipv6PrefixLength?: number | undefined;
}): string | undefined {
  const trustProxy = request.trustProxy ?? 0;
  let address = request.remoteAddress;
  if (address === undefined) return undefined;
  if (trustProxy > 0 && request.forwardedFor !== undefined) {
    // Several X-Forwarded-For lines are one list, in order (RFC 9110 §5.3).
    const joined =
      typeof request.forwardedFor === 'string' ? request.forwardedFor : request.forwardedFor.join(',');
    const hops = joined
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    // hops[hops.length - 1] was written by the nearest proxy (our peer), so with n trusted proxies
    // the client is n entries from the right; a shorter chain means the client talked to our
    // proxies directly, and the leftmost entry is as far as trust reaches.
    const index = Math.max(0, hops.length - trustProxy);
    const candidate = hops[index];
    if (candidate !== undefined) address = stripPort(candidate);
  }
  return normalizeAddress(address, request.ipv6PrefixLength ?? 56);
}

/** `[::1]:443` -> `::1`, `1.2.3.4:80` -> `1.2.3.4`; anything else is kept as it is. */
function stripPort(entry: string): string {
  if (entry.startsWith('[')) {
    const end = entry.indexOf(']');
    return end > 0 ? entry.slice(1, end) : entry;
  }
  const colon = entry.indexOf(':');
  if (colon > 0 && colon === entry.lastIndexOf(':') && isIPv4(entry.slice(0, colon)))
    return entry.slice(0, colon);
  return entry;
}

/**
 * Normalised addresses by prefix length and raw address. Clients repeat, and telling IPv6 from
 * IPv4 runs `node:net`'s large regular expressions: a hit costs a lookup instead. Cleared when
 * full, so a flood of distinct addresses cannot grow it without bound.
 */
const normalizedAddresses = new Map<string, string>();
const MAX_NORMALIZED_ADDRESSES = 10_000;

function normalizeAddress(address: string, ipv6PrefixLength: number): string {
  const cacheKey = `${ipv6PrefixLength}/${address}`;
  let normalized = normalizedAddresses.get(cacheKey);
  if (normalized === undefined) {
    normalized = normalizeAddressUncached(address, ipv6PrefixLength);
    if (normalizedAddresses.size >= MAX_NORMALIZED_ADDRESSES) normalizedAddresses.clear();
    normalizedAddresses.set(cacheKey, normalized);
  }
  return normalized;
}

function normalizeAddressUncached(address: string, ipv6PrefixLength: number): string {
  const zoneless = address.split('%')[0] ?? address;
  const lower = zoneless.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return lower.slice(7);
  if (!isIPv6(lower) || ipv6PrefixLength >= 128) return lower;
  return `${ipv6Network(lower, ipv6PrefixLength)}/${ipv6PrefixLength}`;
}

/** The first `prefixLength` bits of an IPv6 address, as eight full groups. */
function ipv6Network(address: string, prefixLength: number): string {
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  return groups
    .map((group, index) => {
      const value = Number.parseInt(group, 16);
      const bitsKept = Math.min(16, Math.max(0, prefixLength - index * 16));
      const mask = bitsKept === 0 ? 0 : (0xffff << (16 - bitsKept)) & 0xffff;
      return (value & mask).toString(16);
    })
    .join(':');
}
