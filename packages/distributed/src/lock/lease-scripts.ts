import { LUA_SCRIPTS } from '../lua.generated.js';
import { arrayReply, integerReply } from '../lua-reply.js';
import { LuaScript } from '../lua-script.js';

/** What `lease/acquire` answered. @internal */
export type LeaseGrant =
  | { readonly isGranted: true; readonly token: string }
  | { readonly isGranted: false; readonly retryAfterMs: number };

function tokenReply(reply: unknown): string {
  const text = typeof reply === 'number' ? String(reply) : reply;
  if (typeof text !== 'string' || !/^[1-9]\d*$/.test(text)) {
    throw new TypeError(`expected a positive decimal token, got ${typeof reply}`);
  }
  return text;
}

/** `lease/acquire`: `{ granted, token, retryAfterMs }`. @internal */
export const acquireLeaseScript = new LuaScript<LeaseGrant>({
  ...LUA_SCRIPTS['lease/acquire'],
  decode: (reply) => {
    const [granted, token, retryAfterMs] = arrayReply(reply, 3);
    if (integerReply(granted) === 1) return { isGranted: true, token: tokenReply(token) };
    return { isGranted: false, retryAfterMs: integerReply(retryAfterMs) };
  },
});

function flagReply(reply: unknown): boolean {
  const flag = integerReply(reply);
  if (flag !== 0 && flag !== 1) throw new TypeError(`expected 0 or 1, got ${flag}`);
  return flag === 1;
}

/** `lease/renew`: whether the lease was extended. @internal */
export const renewLeaseScript = new LuaScript<boolean>({ ...LUA_SCRIPTS['lease/renew'], decode: flagReply });

/** `lease/release`: whether the caller's lease was deleted. @internal */
export const releaseLeaseScript = new LuaScript<boolean>({
  ...LUA_SCRIPTS['lease/release'],
  decode: flagReply,
});

/**
 * How long the fencing counter outlives the last grant. Correctness does not depend on it (a new
 * token is at least the server's time in microseconds); it only bounds how long an idle lock's
 * counter stays in Redis.
 *
 * @internal
 */
export const FENCE_TTL_MS = 86_400_000;
