// The two Lua scripts of the Redis store: one atomic script per decision, so replicas sharing one Redis
// never both take the last slot. Each mirrors its JavaScript twin line for line (sliding-counter.ts,
// sliding-log.ts); the same-semantics test replays one trace against both.
//
// Clock: ARGV[3] is the caller's clock in ms, or '' to read the Redis server's TIME. The gateway uses the
// server clock, so replicas whose clocks disagree still agree on every window. TIME inside a script that
// writes is allowed because scripts replicate their effects (the default since Redis 5, the only mode since 7).
//
// Both scripts touch exactly one key, which the caller wraps in a hash tag ({...}): on Redis Cluster the
// script runs on the node owning that slot, and a future second key under the same tag stays legal.
// Lua numbers are doubles; every value here is an integer below 2^53, which Redis returns exactly.

/** KEYS[1] hash {w, c, p}; ARGV limit, windowMs, nowMs|''. Returns {allowed, remaining, resetMs, retryAfterMs}. */
export const COUNTER_LUA = `
local key = KEYS[1]                                     -- hash of one (limit, client): w = window index, c, p = counts
local limit = tonumber(ARGV[1])                         -- requests admitted per window
local window = tonumber(ARGV[2])                        -- window length in ms
local now = tonumber(ARGV[3])                           -- the caller's clock in ms, nil when '' (use the server's)
if not now then                                         -- server clock: every replica reads the same one
  local t = redis.call('TIME')                          -- {seconds, microseconds}
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) -- milliseconds since the epoch
end                                                     -- now is set
local idx = math.floor(now / window)                    -- index of the fixed window that contains now
local state = redis.call('HMGET', key, 'w', 'c', 'p')   -- stored window index and counts, false when absent
local w = tonumber(state[1]) or idx                     -- a new key starts in the current window
local curr = tonumber(state[2]) or 0                    -- admitted in window w
local prev = tonumber(state[3]) or 0                    -- admitted in window w - 1
if w == idx - 1 then                                    -- one window boundary crossed:
  prev = curr                                           --   the current count becomes the previous one
  curr = 0                                              --   and the new window starts empty
elseif w < idx - 1 then                                 -- two or more crossed:
  prev = 0                                              --   nothing of the previous window overlaps any more
  curr = 0                                              --   and the new window starts empty
elseif w > idx then                                     -- a clock behind the writer's:
  idx = w                                               --   count in the newer window rather than lose counts
end                                                     -- state now describes window idx
local elapsed = math.max(0, now - idx * window)         -- ms since window idx began
local usedW = prev * (window - elapsed) + curr * window -- requests in the sliding window, scaled by window (integer)
local allowed = 0                                       -- 1 when this request is admitted
if usedW + window <= limit * window then                -- this request fits
  allowed = 1                                           -- admit it
  curr = curr + 1                                       -- count it in the current window
  usedW = usedW + window                                -- and in the estimate
end                                                     -- a rejected request is not counted
redis.call('HSET', key, 'w', idx, 'c', curr, 'p', prev) -- store the rolled-over state
redis.call('PEXPIRE', key, (idx + 2) * window - now)    -- worthless once two windows old: let Redis drop it
local remaining = math.max(0, math.floor((limit * window - usedW) / window)) -- slots left after this request
local need = limit - remaining - 1                      -- remaining grows once usedW <= need * window
local reset = 0                                         -- ms until remaining grows, 0 when nothing is used
if remaining >= limit then                              -- nothing used:
  reset = 0                                             --   nothing to wait for
elseif need >= curr and prev > 0 then                   -- the previous window's weight decays enough in this one:
  reset = window - math.floor((need - curr) * window / prev) - elapsed -- smallest e with prev*(window-e) <= (need-curr)*window
elseif curr > 0 then                                    -- else the current count, previous by then, decays next window:
  reset = window - elapsed + window - math.floor(need * window / curr) -- smallest e with curr*(window-e) <= need*window
else                                                    -- unreachable with a consistent state:
  reset = window - elapsed                              --   the window end is a safe answer
end                                                     -- reset is set
local retry = 0                                         -- 0 when admitted
if allowed == 0 then retry = reset end                  -- a rejected client may retry once a slot frees
return {allowed, remaining, reset, retry}               -- four integers
`;

/** KEYS[1] sorted set; ARGV limit, windowMs, nowMs|'', member. Returns {allowed, remaining, resetMs, retryAfterMs}. */
export const LOG_LUA = `
local key = KEYS[1]                                     -- sorted set of one (limit, client): member per admission, score = time
local limit = tonumber(ARGV[1])                         -- requests admitted per window
local window = tonumber(ARGV[2])                        -- window length in ms
local now = tonumber(ARGV[3])                           -- the caller's clock in ms, nil when '' (use the server's)
local member = ARGV[4]                                  -- unique per request, so two admissions in one ms both count
if not now then                                         -- server clock: every replica reads the same one
  local t = redis.call('TIME')                          -- {seconds, microseconds}
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) -- milliseconds since the epoch
end                                                     -- now is set
local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES') -- {member, score} of the latest admission, or {}
if newest[2] and tonumber(newest[2]) > now then         -- a clock behind the writer's:
  now = tonumber(newest[2])                             --   record at the newest time seen, keeping the log ordered
end                                                     -- now is never behind the log
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window) -- drop admissions that slid out: the window is (now - window, now]
local n = redis.call('ZCARD', key)                      -- admissions inside the window
local allowed = 0                                       -- 1 when this request is admitted
if n < limit then                                       -- this request fits
  redis.call('ZADD', key, now, member)                  -- record it
  redis.call('PEXPIRE', key, window)                    -- the whole set is worthless once its newest entry slides out
  n = n + 1                                             -- count it
  allowed = 1                                           -- admit it
end                                                     -- a rejected request is not recorded
local remaining = math.max(0, limit - n)                -- slots left after this request
local reset = 0                                         -- ms until the oldest admission slides out, 0 when none
if n > 0 then                                           -- something is recorded:
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES') -- {member, score} of the earliest admission
  reset = tonumber(oldest[2]) + window - now            -- it leaving frees the next slot
end                                                     -- reset is set
local retry = 0                                         -- 0 when admitted
if allowed == 0 then retry = reset end                  -- a rejected client may retry once a slot frees
return {allowed, remaining, reset, retry}               -- four integers
`;

/**
 * KEYS[1] hash {w, c, p} (the counter's); ARGV windowMs, bw, bc, bp, nowMs|''. Adds a batch of admissions a
 * replica already made (bc in fixed window bw, bp in bw - 1) and returns {w, c, p, nowMs}: the fleet's
 * counts the replica decides from until its next sync. Mirrors syncApply (batched-counter.ts).
 */
export const SYNC_LUA = `
local key = KEYS[1]                                     -- hash of one (limit, client), shared with COUNTER_LUA
local window = tonumber(ARGV[1])                        -- window length in ms
local bw = tonumber(ARGV[2])                            -- fixed window of the batch's bc admissions
local bc = tonumber(ARGV[3])                            -- admissions in window bw
local bp = tonumber(ARGV[4])                            -- admissions in window bw - 1
local now = tonumber(ARGV[5])                           -- the caller's clock in ms, nil when '' (use the server's)
if not now then                                         -- server clock: every replica reads the same one
  local t = redis.call('TIME')                          -- {seconds, microseconds}
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) -- milliseconds since the epoch
end                                                     -- now is set
local idx = math.floor(now / window)                    -- index of the fixed window that contains now
local state = redis.call('HMGET', key, 'w', 'c', 'p')   -- stored window index and counts, false when absent
if not state[1] and bc + bp == 0 then                   -- a read of a key nobody counted:
  return {idx, 0, 0, now}                               --   nothing to store
end                                                     -- the key is (or will be) stored
local w = tonumber(state[1]) or idx                     -- a new key starts in the current window
local curr = tonumber(state[2]) or 0                    -- admitted in window w
local prev = tonumber(state[3]) or 0                    -- admitted in window w - 1
if w > idx then idx = w end                             -- stored from a clock ahead of this one: the newer window
if bw > idx then idx = bw end                           -- a batch from a clock ahead: the newer window
if w == idx - 1 then                                    -- one window boundary crossed:
  prev = curr                                           --   the current count becomes the previous one
  curr = 0                                              --   and the new window starts empty
elseif w < idx - 1 then                                 -- two or more crossed:
  prev = 0                                              --   nothing of the previous window overlaps any more
  curr = 0                                              --   and the new window starts empty
end                                                     -- state now describes window idx
if bw == idx then                                       -- the batch is of this window:
  curr = curr + bc                                      --   its current admissions
  prev = prev + bp                                      --   and those of the window before
elseif bw == idx - 1 then                               -- the batch is of the previous window:
  prev = prev + bc                                      --   its current admissions are now the previous ones
end                                                     -- older admissions weigh in no decision any more
redis.call('HSET', key, 'w', idx, 'c', curr, 'p', prev) -- store the rolled-over state
redis.call('PEXPIRE', key, (idx + 2) * window - now)    -- worthless once two windows old: let Redis drop it
return {idx, curr, prev, now}                           -- the fleet's counts, and the clock they follow
`;
