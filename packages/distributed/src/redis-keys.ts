import { createHash } from 'node:crypto';

/**
 * Every key hyx writes starts with this, so an ACL rule `~hyx:*` covers exactly hyx's keys.
 *
 * @example
 * ```ts
 * import { HYX_KEY_PREFIX } from '@hyx/distributed';
 * const aclKeyPattern = `~${HYX_KEY_PREFIX}*`;
 * ```
 */
export const HYX_KEY_PREFIX = 'hyx:';

/**
 * The longest escaped user key, in UTF-8 bytes, that a key name carries as it is. A longer one
 * (a URL, a token, a 10 KB header someone chose as the key) is replaced by `%H` and its SHA-256, so
 * key names stay short whatever the caller passes; `%H` never appears in an escaped key, so the
 * digest cannot collide with a literal key.
 *
 * @example
 * ```ts
 * import { MAX_LITERAL_KEY_BYTES } from '@hyx/distributed';
 * const isCarriedAsItIs = (key: string) => Buffer.byteLength(key) <= MAX_LITERAL_KEY_BYTES;
 * ```
 */
export const MAX_LITERAL_KEY_BYTES = 256;

/** The longest policy name, in UTF-8 bytes once escaped: names are chosen by developers, so longer is a mistake. */
const MAX_NAME_BYTES = 128;

/** How many slots a Redis Cluster has. */
const CLUSTER_SLOTS = 16_384;

/** Names of patterns and parts: our own constants, kept to a safe alphabet. */
const SLUG = /^[a-z][a-z0-9-]*$/;

/**
 * What must be escaped in a name or key: `%` (the escape character itself, so the escaping is
 * injective), `{` and `}` (they would end or restart the hash tag), `:` (it separates name from key)
 * and lone UTF-16 surrogates (UTF-8 has no encoding for them: ioredis would send U+FFFD for every
 * one, so two different keys would become the same bytes).
 */
const NEEDS_ESCAPE = /[%{}:]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ESCAPED = new RegExp(NEEDS_ESCAPE.source, 'g');

const ESCAPES: Readonly<Record<string, string>> = { '%': '%25', '{': '%7B', '}': '%7D', ':': '%3A' };

function escapeChar(char: string): string {
  return ESCAPES[char] ?? `%u${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Escapes a policy name or user key for use inside a hash tag: `%`, `{`, `}`, `:` and lone surrogates
 * become `%25`, `%7B`, `%7D`, `%3A` and `%uXXXX`. Injective: two different strings never escape to the
 * same text. Plain keys (no such character) come back unchanged, without allocating.
 *
 * @example
 * ```ts
 * import { escapeKeySegment } from '@hyx/distributed';
 * escapeKeySegment('tenant:{42}'); // 'tenant%3A%7B42%7D'
 * ```
 */
export function escapeKeySegment(segment: string): string {
  return NEEDS_ESCAPE.test(segment) ? segment.replace(ESCAPED, escapeChar) : segment;
}

function utf8Length(text: string): number {
  // A UTF-16 code unit is 1 to 3 UTF-8 bytes: skip the count when the answer is certain.
  if (text.length * 3 <= MAX_LITERAL_KEY_BYTES) return text.length;
  return Buffer.byteLength(text, 'utf8');
}

/**
 * The key segment of a user key: escaped, or `%H` + SHA-256 (base64url) of the escaped key when it
 * is longer than {@link MAX_LITERAL_KEY_BYTES}.
 */
function keySegment(key: string): string {
  if (typeof key !== 'string') {
    throw new TypeError(`Redis key: a policy key must be a string, got ${typeof key}`);
  }
  const escaped = escapeKeySegment(key);
  if (utf8Length(escaped) <= MAX_LITERAL_KEY_BYTES) return escaped;
  return `%H${createHash('sha256').update(escaped, 'utf8').digest('base64url')}`;
}

/**
 * What a {@link RedisKeyspace} needs.
 *
 * @example
 * ```ts
 * import type { RedisKeyspaceOptions } from '@hyx/distributed';
 * const options: RedisKeyspaceOptions<'tokens'> = { pattern: 'rate-limiter', name: 'api', parts: ['tokens'] };
 * ```
 */
export interface RedisKeyspaceOptions<TPart extends string> {
  /** The pattern that owns the keys, lowercase kebab-case: `'rate-limiter'`, `'lock'`. */
  readonly pattern: string;
  /** The policy name, shared by every instance that shares the state. Not empty, at most 128 bytes. */
  readonly name: string;
  /** The state parts one operation touches, lowercase kebab-case, in the order a script wants `KEYS`. */
  readonly parts: readonly TPart[];
}

/**
 * The only place that builds Redis key names. A key is
 * `hyx:{<name>:<key>}:<pattern>:<part>`: the hash tag `{<name>:<key>}` puts every part of one
 * policy key in one Cluster slot, so one script can touch them all.
 *
 * - `name` and `key` are escaped ({@link escapeKeySegment}) so a `{`, `}` or `:` in them cannot break
 *   the tag or make two different (name, key) pairs share a key.
 * - The empty key is a key like any other: `hyx:{api:}:rate-limiter:tokens`.
 * - A key longer than {@link MAX_LITERAL_KEY_BYTES} once escaped is carried as its SHA-256.
 * - An empty or over-long name, or a part that is not a kebab-case slug, throws at construction.
 *
 * @example
 * ```ts
 * import { RedisKeyspace } from '@hyx/distributed';
 * const keyspace = new RedisKeyspace({ pattern: 'rate-limiter', name: 'api', parts: ['tokens', 'stamp'] });
 * keyspace.keysFor('user-1'); // ['hyx:{api:user-1}:rate-limiter:tokens', 'hyx:{api:user-1}:rate-limiter:stamp']
 * ```
 */
export class RedisKeyspace<TPart extends string = string> {
  /** The pattern that owns the keys. */
  readonly pattern: string;
  /** The policy name, unescaped. */
  readonly name: string;
  /** The parts, in `KEYS` order. */
  readonly parts: readonly TPart[];
  readonly #prefix: string;
  readonly #suffixes: readonly string[];

  constructor(options: RedisKeyspaceOptions<TPart>) {
    const { pattern, name, parts } = options;
    if (!SLUG.test(pattern)) {
      throw new TypeError(
        `Redis keyspace: pattern must be lowercase kebab-case, got ${JSON.stringify(pattern)}`,
      );
    }
    if (typeof name !== 'string' || name === '') {
      throw new TypeError(
        `${pattern} ${JSON.stringify(name)}: name must be a non-empty string to key Redis state`,
      );
    }
    const escapedName = escapeKeySegment(name);
    const nameBytes = Buffer.byteLength(escapedName, 'utf8');
    if (nameBytes > MAX_NAME_BYTES) {
      throw new RangeError(
        `${pattern} "${name.slice(0, 40)}...": name must be at most ${MAX_NAME_BYTES} bytes once escaped, got ${nameBytes}`,
      );
    }
    if (parts.length === 0) throw new TypeError(`${pattern} "${name}": a keyspace needs at least one part`);
    for (const part of parts) {
      if (!SLUG.test(part)) {
        throw new TypeError(
          `${pattern} "${name}": key part must be lowercase kebab-case, got ${JSON.stringify(part)}`,
        );
      }
    }
    if (new Set(parts).size !== parts.length) {
      throw new TypeError(`${pattern} "${name}": key parts must be distinct, got ${parts.join(', ')}`);
    }
    this.pattern = pattern;
    this.name = name;
    this.parts = Object.freeze([...parts]);
    this.#prefix = `${HYX_KEY_PREFIX}{${escapedName}:`;
    this.#suffixes = parts.map((part) => `}:${pattern}:${part}`);
  }

  /**
   * The keys of every part for one policy key, in {@link RedisKeyspace.parts} order: the `KEYS` of a
   * script call. They always share one Cluster slot.
   */
  keysFor(key: string): string[] {
    const head = this.#prefix + keySegment(key);
    return this.#suffixes.map((suffix) => head + suffix);
  }

  /** The key of one part for one policy key. */
  keyFor(key: string, part: TPart): string {
    const index = this.parts.indexOf(part);
    const suffix = this.#suffixes[index];
    if (suffix === undefined) {
      throw new TypeError(`${this.pattern} "${this.name}": unknown key part ${JSON.stringify(part)}`);
    }
    return this.#prefix + keySegment(key) + suffix;
  }
}

/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with, one table entry per byte value. */
const CRC16_TABLE = Uint16Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  return crc & 0xffff;
});

/** The text Redis Cluster hashes: the first non-empty `{...}` tag, or else the whole key. */
function hashedPartOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/**
 * The Redis Cluster slot of a key (`CLUSTER KEYSLOT`): CRC16 of its hash tag, or of the whole key
 * when it has none, modulo 16384. Computed here (the Redis Cluster specification's algorithm, checked
 * against `CLUSTER KEYSLOT` in the integration tests) so `@hyx/distributed` needs no runtime
 * dependency beyond its ioredis peer.
 *
 * @example
 * ```ts
 * import { hashSlotOf } from '@hyx/distributed';
 * hashSlotOf('hyx:{api:user-1}:rate-limiter:tokens') === hashSlotOf('api:user-1'); // true
 * ```
 */
export function hashSlotOf(key: string): number {
  const bytes = Buffer.from(hashedPartOf(key), 'utf8');
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc % CLUSTER_SLOTS;
}

function preview(key: string): string {
  return JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}...` : key);
}

/**
 * Throws unless every key hashes to one Cluster slot: a script may only touch keys of one slot,
 * and checking on every deployment (not only on a Cluster) keeps code that works on one Redis
 * working on a Cluster. Keys with the same hash tag pass without hashing.
 *
 * @example
 * ```ts
 * import { assertOneSlot } from '@hyx/distributed';
 * assertOneSlot(['hyx:{api:a}:rate-limiter:tokens', 'hyx:{api:a}:rate-limiter:stamp']); // passes
 * ```
 */
export function assertOneSlot(keys: readonly string[]): void {
  const first = keys[0];
  if (first === undefined || keys.length === 1) return;
  const firstTag = hashedPartOf(first);
  let firstSlot: number | undefined;
  // By index: this runs on every script call.
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index] as string;
    if (hashedPartOf(key) === firstTag) continue;
    firstSlot ??= hashSlotOf(first);
    const slot = hashSlotOf(key);
    if (slot !== firstSlot) {
      throw new RangeError(
        `Redis keys of one script call must share one Cluster slot: ${preview(first)} is in slot ${firstSlot}, ${preview(key)} in slot ${slot}`,
      );
    }
  }
}
