import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_LITERAL_KEY_BYTES,
  RedisKeyspace,
  assertOneSlot,
  escapeKeySegment,
  hashSlotOf,
  type RedisKeyspaceOptions,
} from './redis-keys.js';

const keyspaceOf = (overrides: Partial<RedisKeyspaceOptions<string>> = {}) =>
  new RedisKeyspace({ pattern: 'rate-limiter', name: 'api', parts: ['tokens', 'stamp'], ...overrides });

/**
 * Strings made of the characters escaping is about (the escape's own alphabet, braces, colons, lone
 * surrogate halves) or of any code point.
 */
const keyText = (maxLength: number) =>
  fc.oneof(
    fc.string({
      unit: fc.constantFrom(
        '%',
        '2',
        '5',
        '7',
        'B',
        'D',
        '3',
        'A',
        'u',
        'H',
        '{',
        '}',
        ':',
        '\uD800',
        '\uDC00',
        'é',
      ),
      maxLength,
    }),
    fc.string({ unit: 'binary', maxLength }),
  );

/** The text between the first `{` and the next `}`: what Redis Cluster hashes. */
const hashTagOf = (key: string) => /\{([^}]*)\}/.exec(key)?.[1];

describe('RedisKeyspace', () => {
  it('builds hyx:{<name>:<key>}:<pattern>:<part> for every part, in order', () => {
    expect(keyspaceOf().keysFor('user-1')).toEqual([
      'hyx:{api:user-1}:rate-limiter:tokens',
      'hyx:{api:user-1}:rate-limiter:stamp',
    ]);
    expect(keyspaceOf().keyFor('user-1', 'stamp')).toBe('hyx:{api:user-1}:rate-limiter:stamp');
  });

  it('escapes braces, colons and percent signs so the hash tag stays whole', () => {
    const keys = keyspaceOf({ name: 'pay:{ments}' }).keysFor('}{:%}');
    expect(keys[0]).toBe('hyx:{pay%3A%7Bments%7D:%7D%7B%3A%25%7D}:rate-limiter:tokens');
    for (const key of keys) expect(hashTagOf(key)).toBe('pay%3A%7Bments%7D:%7D%7B%3A%25%7D');
  });

  it('keeps the empty key as a key of its own', () => {
    expect(keyspaceOf().keysFor('')).toEqual([
      'hyx:{api:}:rate-limiter:tokens',
      'hyx:{api:}:rate-limiter:stamp',
    ]);
  });

  it('carries a key full of braces whole, in one slot', () => {
    const braces = '{}'.repeat(500);
    const keys = keyspaceOf().keysFor(braces);
    expect(keys[0]).not.toContain(braces);
    expect(new Set(keys.map(hashSlotOf)).size).toBe(1);
    expect(keyspaceOf().keysFor('{}'.repeat(499))[0]).not.toBe(keys[0]);
  });

  it('replaces a key longer than MAX_LITERAL_KEY_BYTES by its digest, and keeps one at the limit', () => {
    const atLimit = 'k'.repeat(MAX_LITERAL_KEY_BYTES);
    expect(keyspaceOf().keyFor(atLimit, 'tokens')).toBe(`hyx:{api:${atLimit}}:rate-limiter:tokens`);

    const tenKilobytes = 'x'.repeat(10 * 1024);
    const key = keyspaceOf().keyFor(tenKilobytes, 'tokens');
    expect(key).toMatch(/^hyx:\{api:%H[\w-]{43}\}:rate-limiter:tokens$/);
    expect(keyspaceOf().keyFor(tenKilobytes, 'tokens')).toBe(key);
    expect(keyspaceOf().keyFor(`${tenKilobytes.slice(1)}y`, 'tokens')).not.toBe(key);
    expect(keyspaceOf().keyFor(`${atLimit}k`, 'tokens')).toMatch(/%H/);
  });

  it('counts bytes, not characters, against the limit', () => {
    const multiByte = 'é'.repeat(MAX_LITERAL_KEY_BYTES / 2 + 1); // 2 bytes each: just over
    expect(keyspaceOf().keyFor(multiByte, 'tokens')).toMatch(/%H/);
    expect(keyspaceOf().keyFor('é'.repeat(MAX_LITERAL_KEY_BYTES / 2), 'tokens')).not.toMatch(/%H/);
  });

  it('never maps two different (name, key) pairs to the same bytes: the bytes decode back to both', () => {
    // An injective function has an inverse: recover name and key from the UTF-8 that ioredis sends
    // (where a lone surrogate would have collapsed into U+FFFD) and require the originals.
    const unescape = (segment: string) =>
      segment.replace(/%(25|7B|7D|3A|u[0-9A-F]{4})/g, (_, code: string) =>
        code.startsWith('u')
          ? String.fromCharCode(parseInt(code.slice(1), 16))
          : decodeURIComponent(`%${code}`),
      );
    fc.assert(
      fc.property(keyText(12).filter(Boolean), keyText(40), (name, key) => {
        const bytes = Buffer.from(keyspaceOf({ name }).keyFor(key, 'tokens'));
        const [escapedName = '', escapedKey = ''] =
          hashTagOf(new TextDecoder().decode(bytes))?.split(':') ?? [];
        expect([unescape(escapedName), unescape(escapedKey)]).toEqual([name, key]);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps every part of any key in one hash tag without braces', () => {
    fc.assert(
      fc.property(keyText(300), (key) => {
        const keys = keyspaceOf().keysFor(key);
        const tags = keys.map(hashTagOf);
        expect(tags[0]).toMatch(/^api:[^{}]*$/);
        expect(new Set(tags).size).toBe(1);
      }),
    );
  });

  it('escapes lone surrogates, which UTF-8 cannot carry', () => {
    expect(escapeKeySegment('a\uD800b')).toBe('a%uD800b');
    expect(escapeKeySegment('\uDC00')).toBe('%uDC00');
    expect(escapeKeySegment('😀')).toBe('😀');
  });

  it.each([
    ['an empty name', { name: '' }, /name must be a non-empty string/],
    [
      'a name over 128 bytes',
      { name: 'n'.repeat(129) },
      /name must be at most 128 bytes once escaped, got 129/,
    ],
    [
      'a part that is not kebab-case',
      { parts: ['Tokens'] },
      /key part must be lowercase kebab-case, got "Tokens"/,
    ],
    ['a part with a colon', { parts: ['a:b'] }, /key part must be lowercase kebab-case/],
    ['duplicate parts', { parts: ['tokens', 'tokens'] }, /key parts must be distinct/],
    ['no parts', { parts: [] }, /at least one part/],
    ['a pattern with braces', { pattern: '{x}' }, /pattern must be lowercase kebab-case/],
  ])('rejects %s at construction', (_, overrides, message) => {
    expect(() => keyspaceOf(overrides)).toThrow(message);
  });

  it('rejects a key that is not a string, and an unknown part', () => {
    expect(() => keyspaceOf().keysFor(42 as unknown as string)).toThrow(/must be a string, got number/);
    expect(() => keyspaceOf().keyFor('a', 'other')).toThrow(/unknown key part "other"/);
  });
});

describe('hashSlotOf', () => {
  it('is CRC16-XMODEM modulo 16384 (the check value of the Redis Cluster specification)', () => {
    expect(hashSlotOf('123456789')).toBe(0x31c3);
  });

  it.each([
    ['{user1000}.following', 'user1000'],
    ['foo{bar}{zap}', 'bar'],
    ['foo{{bar}}zap', '{bar'],
    ['foo{}{bar}', 'foo{}{bar}'],
    ['foo{bar', 'foo{bar'],
  ])('hashes %j as %j (the first non-empty {...} tag, else the whole key)', (key, hashed) => {
    expect(hashSlotOf(key)).toBe(hashSlotOf(hashed));
  });
});

describe('assertOneSlot', () => {
  it('passes keys of one hash tag, and no or one key', () => {
    expect(() => {
      assertOneSlot(keyspaceOf().keysFor('user-1'));
      assertOneSlot([]);
      assertOneSlot(['lonely']);
    }).not.toThrow();
  });

  it('passes keys with different tags that hash to the same slot', () => {
    expect(hashSlotOf('{user1000}.following')).toBe(hashSlotOf('user1000'));
    expect(() => {
      assertOneSlot(['{user1000}.following', 'user1000']);
    }).not.toThrow();
  });

  it('throws naming both keys and slots when they differ', () => {
    expect(() => {
      assertOneSlot(['hyx:{api:a}:x', 'hyx:{api:b}:x']);
    }).toThrow(/one Cluster slot: "hyx:\{api:a\}:x" is in slot \d+, "hyx:\{api:b\}:x" in slot \d+/);
  });
});
