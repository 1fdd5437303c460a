/**
 * The Lua scripts of the Redis store. `CHECK_SCRIPT` is one atomic check: it mirrors
 * `MemoryStore.check` (bucket.ts and blacklist.ts rules) step for step, and one contract test
 * runs the same cases against both stores.
 *
 * Layout: every key is a hash with fields `bu` (blacklisted until, 0: none), `bs` (since), `of`
 * (offences), `ol` (last offence), `dn`/`dw` (refusals and their window start), `bc` (requests
 * refused while blacklisted), `ex` (time after which the hash carries no information), and per
 * bucket slot `t<slot>` (tokens) and `u<slot>` (reference time). One sorted set (the index) holds
 * blacklisted keys scored by their end, for `sweep`. One epoch key holds the time this Redis
 * first served a check; it is the only key without a TTL (one small constant key per prefix).
 *
 * @example
 *   const sha = scriptSha(CHECK_SCRIPT); // then EVALSHA sha, falling back to EVAL on NOSCRIPT
 */
import { createHash } from 'node:crypto';

export function scriptSha(script: string): string {
  return createHash('sha1').update(script).digest('hex');
}

const NOW_LUA = `
local now
if ARGV[1] == '1' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[2])
end
`;

/*
KEYS: [epoch, index, key1 .. keyN]
ARGV: [redisTime 0|1, callerNow, cost, coldEmpty 0|1, N, ttlSlackMs,
       per key: shadowUntil, shadowSince, shadowOffences,
                nb, (slot, capacity, windowMs) * nb,
                hasPolicy 0|1, [coolingMs, tolerance, toleranceWindowMs, factor, maxCoolingMs, offenceWindowMs]]
Returns: [allowed, reason (0 ok, 1 limited, 2 blacklisted), retryAfterMs, resetMs, now, deniedKey (0-based, -1),
          fresh epoch 0|1, R, remaining * R, per key: bu, bs, of,
          E, per event: type (1 blacklisted, 2 re-enabled), key index (0-based), since, until, offences, blocked]
*/
export const CHECK_SCRIPT = `${NOW_LUA}
local EPS = 1e-9
local cost = tonumber(ARGV[3])
local coldEmpty = ARGV[4] == '1'
local n = tonumber(ARGV[5])
local slack = tonumber(ARGV[6])

-- the epoch is read only when a bucket is missing (a new key, or every key after a restart)
local epoch = nil
local fresh = 0
local function getEpoch()
  if epoch == nil then
    epoch = tonumber(redis.call('GET', KEYS[1]))
    if not epoch then
      epoch = now
      fresh = 1
      redis.call('SET', KEYS[1], now)
    end
  end
  return epoch
end

local function refilled(t, u, cap, win)
  local e = now - u
  if not (e > 0) then return t end
  t = t + (e * cap) / win
  if t >= cap then return cap end
  return t
end
local function advanced(u, win)
  if now >= u then return now end
  if u - now > win then return now end
  return u
end
local function msUntil(t, need, cap, win)
  local m = need - t
  if m <= EPS then return 0 end
  return math.ceil((m * win) / cap - EPS)
end

-- parse and load
local K = {}
local pos = 7
local total = 0
for i = 1, n do
  local k = { name = KEYS[i + 2] }
  k.sU = tonumber(ARGV[pos]); k.sS = tonumber(ARGV[pos + 1]); k.sO = tonumber(ARGV[pos + 2])
  local nb = tonumber(ARGV[pos + 3])
  pos = pos + 4
  k.b = {}
  local fields = { 'bu', 'bs', 'of', 'ol', 'dn', 'dw', 'bc', 'ex', 'xp' }
  for j = 1, nb do
    local s = { slot = ARGV[pos], cap = tonumber(ARGV[pos + 1]), win = tonumber(ARGV[pos + 2]) }
    pos = pos + 3
    k.b[j] = s
    fields[#fields + 1] = 't' .. s.slot
    fields[#fields + 1] = 'u' .. s.slot
  end
  total = total + nb
  if ARGV[pos] == '1' then
    k.ppos = pos + 1 -- the policy is parsed only when a refusal needs it
    pos = pos + 7
  else
    pos = pos + 1
  end
  local f = redis.call('HMGET', k.name, unpack(fields))
  k.bu = tonumber(f[1]) or 0; k.bs = tonumber(f[2]) or 0; k.of = tonumber(f[3]) or 0; k.ol = tonumber(f[4]) or 0
  k.dn = tonumber(f[5]) or 0; k.dw = tonumber(f[6]) or 0; k.bc = tonumber(f[7]) or 0; k.ex = tonumber(f[8]) or 0
  k.xp = tonumber(f[9]) or 0
  -- every write sets 'ex', so a hash without it is a key the store does not have
  if f[8] == false and k.sU > now then
    -- the store lost this key (restart, flush, eviction) while a gateway knows it is cooling: restore
    k.bu = k.sU; k.bs = k.sS; k.of = k.sO; k.ol = k.sS
    if k.bu > k.ex then k.ex = k.bu end
    k.xp = now + math.ceil(k.bu - now) + slack
    redis.call('HSET', k.name, 'bu', k.bu, 'bs', k.bs, 'of', k.of, 'ol', k.ol, 'ex', k.ex, 'xp', k.xp)
    redis.call('PEXPIRE', k.name, k.xp - now)
    redis.call('ZADD', KEYS[2], k.bu, k.name)
  end
  for j = 1, nb do
    local s = k.b[j]
    s.t = tonumber(f[9 + 2 * j - 1])
    s.u = tonumber(f[9 + 2 * j])
  end
  K[i] = k
end

local events = {}
local function entry(kind, i, k)
  events[#events + 1] = kind; events[#events + 1] = i - 1; events[#events + 1] = k.bs
  events[#events + 1] = k.bu; events[#events + 1] = k.of; events[#events + 1] = k.bc
end

local function finish(allowed, reason, retry, reset, denied, remaining)
  local out = { allowed, reason, retry, reset, now, denied, fresh, #remaining }
  for _, r in ipairs(remaining) do out[#out + 1] = r end
  for i = 1, n do
    local k = K[i]
    out[#out + 1] = k.bu; out[#out + 1] = k.bs; out[#out + 1] = k.of
  end
  out[#out + 1] = #events / 6
  for _, e in ipairs(events) do out[#out + 1] = e end
  return out
end

-- writes the given fields plus 'ex' (the end of what the hash remembers); the TTL is set with
-- some slack ('xp' records the expiry set), so a busy key pays for PEXPIRE only now and then
local function save(k, ex, hs)
  if ex > k.ex then k.ex = ex end
  if k.ex > k.xp or k.xp == 0 then
    hs[#hs + 1] = 'ex'; hs[#hs + 1] = k.ex
    local ttl = math.ceil(k.ex - now)
    if ttl < 1000 then ttl = 1000 end
    ttl = ttl + slack
    k.xp = now + ttl
    hs[#hs + 1] = 'xp'; hs[#hs + 1] = k.xp
    redis.call('HSET', k.name, unpack(hs))
    redis.call('PEXPIRE', k.name, ttl)
  else
    redis.call('HSET', k.name, unpack(hs))
  end
end

-- 1. cooling periods: lazy re-enable, then refusal of active ones
for i = 1, n do
  local k = K[i]
  if k.bu > 0 and k.bu <= now then
    entry(2, i, k)
    k.bu = 0; k.bc = 0
    redis.call('HSET', k.name, 'bu', 0, 'bc', 0)
    redis.call('ZREM', KEYS[2], k.name)
  end
end
for i = 1, n do
  local k = K[i]
  if k.bu > now then
    k.bc = k.bc + 1
    save(k, k.bu, { 'bc', k.bc })
    local zeros = {}
    for z = 1, total do zeros[z] = 0 end
    local wait = math.ceil(k.bu - now)
    return finish(0, 2, wait, wait, i - 1, zeros)
  end
end

-- 2. refill
local allowed = true
local retry = 0
local denied = -1
for i = 1, n do
  local k = K[i]
  for j = 1, #k.b do
    local s = k.b[j]
    local t, u = s.t, s.u
    if t == nil or u == nil then
      u = now
      if coldEmpty then
        -- a bucket missing within one window after the epoch (a Redis restart or flush) starts
        -- as if it had been empty at the epoch: a restart never grants more than the refill rate
        t = refilled(0, getEpoch(), s.cap, s.win)
      else
        getEpoch()
        t = s.cap
      end
    end
    t = refilled(t, u, s.cap, s.win)
    s.t = t
    s.u = advanced(u, s.win)
    if t + EPS < cost then
      allowed = false
      if denied < 0 then denied = i - 1 end
      local w = msUntil(t, cost, s.cap, s.win)
      if w > retry then retry = w end
    end
  end
end

-- 3. consume or count the refusal
local remaining = {}
local reset = 0
local anyBlack = false
for i = 1, n do
  local k = K[i]
  local lacking = false
  local keyReset = 0
  local hs = {}
  for j = 1, #k.b do
    local s = k.b[j]
    if allowed then
      if s.t - cost > 0 then s.t = s.t - cost else s.t = 0 end
    elseif s.t + EPS < cost then
      lacking = true
    end
    remaining[#remaining + 1] = math.floor(s.t + EPS)
    local w = msUntil(s.t, s.cap, s.cap, s.win)
    if w > keyReset then keyReset = w end
    hs[#hs + 1] = 't' .. s.slot; hs[#hs + 1] = s.t
    hs[#hs + 1] = 'u' .. s.slot; hs[#hs + 1] = s.u
  end
  if keyReset > reset then reset = keyReset end
  local ex = now + keyReset
  local p = nil
  if lacking and k.ppos then
    local q = k.ppos
    p = { cooling = tonumber(ARGV[q]), tol = tonumber(ARGV[q + 1]), tolWin = tonumber(ARGV[q + 2]),
          factor = tonumber(ARGV[q + 3]), maxCooling = tonumber(ARGV[q + 4]), offWin = tonumber(ARGV[q + 5]) }
  end
  if p then
    if not (k.dn > 0) or now < k.dw or now - k.dw > p.tolWin then
      k.dn = 1; k.dw = now
    else
      k.dn = k.dn + 1
    end
    if k.dn > p.tol then
      local offences = 1
      if k.of > 0 and now >= k.ol and now - k.ol <= p.offWin then offences = k.of + 1 end
      local steps = offences - 1
      if steps > 64 then steps = 64 end
      local cooling = p.cooling * (p.factor ^ steps)
      if cooling > p.maxCooling then cooling = p.maxCooling end
      cooling = math.floor(cooling)
      k.bu = now + cooling; k.bs = now; k.of = offences; k.ol = now; k.dn = 0; k.bc = 0
      anyBlack = true
      entry(1, i, k)
      if cooling > retry then retry = cooling end
      local mem = p.offWin
      if p.maxCooling > mem then mem = p.maxCooling end
      if k.bu > ex then ex = k.bu end
      if now + mem > ex then ex = now + mem end
      redis.call('ZADD', KEYS[2], k.bu, k.name)
      local want = math.ceil(k.bu - now) + 3600000
      if redis.call('PTTL', KEYS[2]) < want then redis.call('PEXPIRE', KEYS[2], want) end
    elseif k.dw + p.tolWin > ex then
      ex = k.dw + p.tolWin
    end
  end
  if p then
    -- only a counted refusal changes these fields; the common path writes just the buckets
    hs[#hs + 1] = 'bu'; hs[#hs + 1] = k.bu; hs[#hs + 1] = 'bs'; hs[#hs + 1] = k.bs
    hs[#hs + 1] = 'of'; hs[#hs + 1] = k.of; hs[#hs + 1] = 'ol'; hs[#hs + 1] = k.ol
    hs[#hs + 1] = 'dn'; hs[#hs + 1] = k.dn; hs[#hs + 1] = 'dw'; hs[#hs + 1] = k.dw
    hs[#hs + 1] = 'bc'; hs[#hs + 1] = k.bc
  end
  save(k, ex, hs)
end

if allowed then return finish(1, 0, 0, reset, -1, remaining) end
if anyBlack then return finish(0, 2, retry, reset, denied, remaining) end
return finish(0, 1, retry, reset, denied, remaining)
`;

/*
KEYS: [index, key]; ARGV: []
Ends the key's cooling period now. Returns [found 0|1, since, until, offences, blocked].
*/
export const LIFT_SCRIPT = `
local f = redis.call('HMGET', KEYS[2], 'bu', 'bs', 'of', 'bc')
local bu = tonumber(f[1]) or 0
redis.call('ZREM', KEYS[1], KEYS[2])
if not (bu > 0) then return { 0, 0, 0, 0, 0 } end
redis.call('HSET', KEYS[2], 'bu', 0, 'bc', 0)
return { 1, tonumber(f[2]) or 0, bu, tonumber(f[3]) or 0, tonumber(f[4]) or 0 }
`;

/*
KEYS: [index]; ARGV: [redisTime 0|1, callerNow, limit]
Removes up to \`limit\` entries whose cooling period is over; returns
[now, count, per entry: key, since, until, offences, blocked]. Atomic, so among several gateway
instances exactly one reports each re-enable. Index members are full Redis key names.
*/
export const SWEEP_SCRIPT = `${NOW_LUA}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local out = { now, 0 }
for i = 1, #due, 2 do
  local name = due[i]
  redis.call('ZREM', KEYS[1], name)
  local f = redis.call('HMGET', name, 'bu', 'bs', 'of', 'bc')
  local bu = tonumber(f[1]) or 0
  if bu > 0 and bu <= now then
    redis.call('HSET', name, 'bu', 0, 'bc', 0)
    out[#out + 1] = name; out[#out + 1] = tonumber(f[2]) or 0; out[#out + 1] = bu
    out[#out + 1] = tonumber(f[3]) or 0; out[#out + 1] = tonumber(f[4]) or 0
    out[2] = out[2] + 1
  elseif f[1] == false then
    -- the hash is gone (evicted): still report the end of the cooling period, once
    out[#out + 1] = name; out[#out + 1] = 0; out[#out + 1] = tonumber(due[i + 1]); out[#out + 1] = 0; out[#out + 1] = 0
    out[2] = out[2] + 1
  end
end
return out
`;

/*
KEYS: [index]; ARGV: [redisTime 0|1, callerNow, limit]
Active entries: [now, count, per entry: key, since, until, offences, blocked].
*/
export const ACTIVE_SCRIPT = `${NOW_LUA}
local m = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'LIMIT', 0, tonumber(ARGV[3]))
local out = { now, 0 }
for _, name in ipairs(m) do
  local f = redis.call('HMGET', name, 'bu', 'bs', 'of', 'bc')
  local bu = tonumber(f[1]) or 0
  if bu > now then
    out[#out + 1] = name; out[#out + 1] = tonumber(f[2]) or 0; out[#out + 1] = bu
    out[#out + 1] = tonumber(f[3]) or 0; out[#out + 1] = tonumber(f[4]) or 0
    out[2] = out[2] + 1
  end
end
return out
`;
