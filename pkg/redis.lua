-- The shared rate limiter of headless-imports, run by pkg/redis.js. src/limit_rule.rs states the
-- rule in Rust (`decide`), this script applies it atomically where the slots live, and
-- tests/limit_store_props.rs checks on random arrivals that the two decide alike.
--
-- Send number k+max may go no earlier than send k's answer plus the window plus a margin. One
-- hash per window (KEYS[1]: the creates of an account, or the polls of one import):
--   n     the number of the last slot taken (1, 2, ... in the order taken, across processes)
--   s<k>  slot k's start: the earliest it may be sent, as last decided (ms)
--   a<k>  when slot k was answered (ms), once released
--   p     paused until (ms): a 429's Retry-After holds every process's next slots
--   x     until when anything in the hash matters (ms); its TTL reaches just past it
-- Times are Redis's clock (TIME), in milliseconds: the workers' own clocks never matter.
--
-- ARGV[1] is the operation:
--   take    max, windowMs, marginMs, leaseMs, slot ('' takes a new one; a number re-decides that
--           slot, or takes a new one if it was given up), now  ->  { slot, waitMs, firm (1 or 0) }
--   answer  slot, windowMs, marginMs, now  ->  1, or 0 when the slot is unknown
--   pause   ms, now  ->  1
-- `now` is for tests only (an empty or missing one reads TIME).

-- Before Redis 5 a script that reads TIME may only write if it replicates effects, not itself.
if redis.replicate_commands then
  pcall(redis.replicate_commands)
end

local key = KEYS[1]
local op = ARGV[1]

local function clock(arg)
  if arg ~= nil and arg ~= '' then
    return tonumber(arg)
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

-- Milliseconds as text, to the microsecond: Lua's own number to string keeps 14 digits, which an
-- epoch time in ms (13 digits) plus its fraction would exceed.
local function ms(t)
  return string.format('%.3f', t)
end

-- Keeps the hash until `t`, never shortening its life: then Redis drops it by itself once no
-- slot in it can hold back another.
local function keep_until(t, now)
  local x = tonumber(redis.call('HGET', key, 'x'))
  if x == nil or t > x then
    redis.call('HSET', key, 'x', ms(t))
    redis.call('PEXPIRE', key, tostring(math.ceil(t - now) + 1))
  end
end

if op == 'take' then
  local max, window, margin, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local now = clock(ARGV[7])
  local k = tonumber(ARGV[6])
  if k == nil or redis.call('HEXISTS', key, 's' .. k) == 0 then
    -- A new slot; or one that was given up for lost (its holder did not ask again within its
    -- lease, and the slot after it went ahead), which queues again at the end as a new one.
    k = redis.call('HINCRBY', key, 'n', 1)
  end
  -- `decide` in src/limit_rule.rs, step for step.
  local firm = 1
  local at = math.max(now, tonumber(redis.call('HGET', key, 'p')) or now)
  local before = k - max
  local starts = nil
  if before >= 1 then
    starts = tonumber(redis.call('HGET', key, 's' .. before))
  end
  if starts ~= nil then
    local answered = tonumber(redis.call('HGET', key, 'a' .. before))
    if answered == nil then
      if starts + lease <= now then
        -- Never released within its lease: its holder is gone.
        answered = starts + lease
      else
        answered = starts
        firm = 0
      end
    end
    at = math.max(at, answered + window + margin)
    if firm == 1 then
      -- Slot k was the only one to wait for it, and has its answer now.
      redis.call('HDEL', key, 's' .. before, 'a' .. before)
    end
  end
  -- A waiting slot's start moves with each decision: that is also what shows its holder alive.
  redis.call('HSET', key, 's' .. k, ms(at))
  keep_until(at + lease + window + margin, now)
  return { k, ms(at - now), firm }
end

if op == 'answer' then
  local k, window, margin = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
  local now = clock(ARGV[5])
  if k == nil or redis.call('HEXISTS', key, 's' .. k) == 0 then
    return 0
  end
  if redis.call('HSETNX', key, 'a' .. k, ms(now)) == 1 then
    keep_until(now + window + margin, now)
  end
  return 1
end

if op == 'pause' then
  local now = clock(ARGV[3])
  local till = now + tonumber(ARGV[2])
  local p = tonumber(redis.call('HGET', key, 'p'))
  if p == nil or till > p then
    redis.call('HSET', key, 'p', ms(till))
    keep_until(till, now)
  end
  return 1
end

return redis.error_reply('headless-imports rate limit: unknown operation ' .. tostring(op))
