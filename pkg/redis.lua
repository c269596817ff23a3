-- The shared rate limiter of headless-imports, run by pkg/redis.js. src/limit_rule.rs states the
-- rule in Rust (`decide`), this script applies it atomically where the slots live, and
-- tests/limit_store_props.rs checks on random arrivals that the two decide alike.
--
-- Send number k+max may go no earlier than send k's answer plus the window plus a margin. One
-- hash per window (KEYS[1]: the creates of an account, or the polls of one import):
--   n     the number of the last slot taken (1, 2, ... in the order taken, across processes)
--   s<k>  slot k's start: the earliest it may be sent, as last decided (ms)
--   f<k>  slot k's start was decided for good (before that, its holder could not send it)
--   a<k>  when slot k was answered (ms), once released
--   h<k>  when slot k's holder was last heard from: a decision, or a heartbeat (ms)
--   v<k>  slot k was given up before it was sent (released unsent)
--   p     paused until (ms): a 429's Retry-After holds every process's next slots
--   x     until when anything in the hash matters (ms); its TTL reaches just past it
--   i     this hash's incarnation: made with it, so that a slot number from before Redis lost
--         the hash (a restart without persistence, a FLUSHALL) is never taken for a new one
-- Times are Redis's clock (TIME), in milliseconds: the workers' own clocks never matter.
--
-- A holder heard from within `stale` ms is alive. One silent for longer is gone (its process
-- died): its slot counts as answered when it fell silent (plus `stale`) if it may have been sent
-- by then, and as never sent if its start came later, and the slot after it then takes its place.
-- A holder never sends once it may have been taken for gone (pkg/redis.js checks).
--
-- ARGV[1] is the operation:
--   take    max, windowMs, marginMs, leaseMs, staleMs (0: holders are never taken for gone),
--           slot ('' takes a new one; a number re-decides that slot, or takes a new one if it
--           was given up, or its holder was silent past staleMs), incarnation (the slot's), now
--           ->  { slot, waitMs, firm (1 or 0), incarnation }
--   answer  slot, windowMs, marginMs, incarnation, now, agoMs  ->  1, or 0 when the slot is
--           unknown. agoMs: how long before the call the holder saw the answer (its own clock
--           measures that span; a busy process may send the call a few ms late), never before
--           the slot's start
--   drop    slot, incarnation  ->  1, or 0 when the slot is unknown (released without being sent)
--   beat    now, incarnation, staleMs, slot...  ->  the slots among them that are no longer
--           kept, or whose holder was silent past staleMs (the others are heard from now)
--   pause   ms, now  ->  1
-- A slot is known when its fields are kept and the incarnation named is the hash's.
-- `now` is for tests only (an empty or missing one reads TIME).

-- Before Redis 5 a script that reads TIME may only write if it replicates effects, not itself.
if redis.replicate_commands then
  pcall(redis.replicate_commands)
end

local key = KEYS[1]
local op = ARGV[1]

-- Whether slot `k` of incarnation `inc` is kept.
local function known(k, inc)
  return k ~= nil and inc == redis.call('HGET', key, 'i') and redis.call('HEXISTS', key, 's' .. k) == 1
end

-- Whether slot `k`'s holder fell silent long enough to be taken for gone (`stale` ms; 0: never)
-- while the slot was unanswered: others may have given its place away meanwhile (the slot after it
-- took it, or counted it answered when its holder fell silent). Such a slot is never revived:
-- asked about again it queues anew, and a heartbeat names it lost, so a holder that wakes from a
-- stall (SIGSTOP, a paused VM) cannot send in a place that was given away.
local function forfeited(k, stale, now)
  if stale <= 0 or redis.call('HEXISTS', key, 'a' .. k) == 1 then
    return false
  end
  local heard = tonumber(redis.call('HGET', key, 'h' .. k))
  return heard ~= nil and heard + stale <= now
end

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
  local max, window, margin = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
  local lease, stale = tonumber(ARGV[5]), tonumber(ARGV[6]) or 0
  local now = clock(ARGV[9])
  local k = tonumber(ARGV[7])
  local again = known(k, ARGV[8])
  if again and forfeited(k, stale, now) then
    -- Asked about again, so it was never sent: given up, and this ask queues as a new slot.
    redis.call('HSET', key, 'v' .. k, '1')
    again = false
  end
  if redis.call('HEXISTS', key, 'i') == 0 then
    -- A new hash: named by Redis's clock to the microsecond, which no earlier one of this key
    -- can share.
    local t = redis.call('TIME')
    redis.call('HSET', key, 'i', t[1] .. '.' .. t[2])
  end
  if not again then
    -- A new slot; or one that was given up for lost (its holder did not ask again within its
    -- lease, and the slot after it went ahead), which queues again at the end as a new one.
    k = redis.call('HINCRBY', key, 'n', 1)
  end
  -- `decide` in src/limit_rule.rs, step for step: walk back from the slot max places before,
  -- past slots that were never sent, to the one this slot must wait for.
  local firm = 1
  local at = math.max(now, tonumber(redis.call('HGET', key, 'p')) or now)
  local used = {}
  local b = k - max
  while b >= 1 do
    local starts = tonumber(redis.call('HGET', key, 's' .. b))
    if starts == nil then
      break
    end
    used[#used + 1] = b
    local answered = tonumber(redis.call('HGET', key, 'a' .. b))
    if answered == nil then
      -- Gone: its lease ran out, or its holder fell silent.
      local gone = starts + lease
      local heard = tonumber(redis.call('HGET', key, 'h' .. b))
      local quiet = nil
      if heard ~= nil and stale > 0 then
        quiet = heard + stale
        gone = math.min(gone, quiet)
      end
      -- Never sent: given up; or its holder fell silent before its start, or before it was ever
      -- decided for good (a holder sends only a firm slot, and only while sure it is alive).
      local unsent = redis.call('HEXISTS', key, 'v' .. b) == 1
        or (quiet ~= nil and quiet <= now and (starts >= quiet or redis.call('HEXISTS', key, 'f' .. b) == 0))
      if unsent then
        -- Never sent: this slot takes its place, and waits for what it waited for.
        if b > max and redis.call('HEXISTS', key, 's' .. (b - max)) == 1 then
          b = b - max
        else
          at = math.max(at, starts)
          break
        end
      elseif gone <= now then
        at = math.max(at, gone + window + margin)
        break
      else
        -- In flight, or waiting itself: no sooner than if answered the moment it starts.
        at = math.max(at, starts + window + margin)
        firm = 0
        break
      end
    else
      at = math.max(at, answered + window + margin)
      break
    end
  end
  if again and #used == 0 then
    -- Asked about again once its wait was final: never earlier than decided then.
    at = math.max(at, tonumber(redis.call('HGET', key, 's' .. k)))
  end
  if firm == 1 then
    -- Slot k was the only one to wait for these, and has its answer now.
    for _, u in ipairs(used) do
      redis.call('HDEL', key, 's' .. u, 'f' .. u, 'a' .. u, 'h' .. u, 'v' .. u)
    end
  end
  -- A waiting slot's start moves with each decision; once firm, it is for good.
  redis.call('HSET', key, 's' .. k, ms(at), 'h' .. k, ms(now))
  if firm == 1 then
    redis.call('HSET', key, 'f' .. k, '1')
  end
  keep_until(at + lease + window + margin, now)
  return { k, ms(at - now), firm, redis.call('HGET', key, 'i') }
end

if op == 'answer' then
  local k, window, margin = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
  local now = clock(ARGV[6])
  if not known(k, ARGV[5]) then
    return 0
  end
  local ago = tonumber(ARGV[7]) or 0
  local at = now
  if ago > 0 then
    at = math.max(now - ago, tonumber(redis.call('HGET', key, 's' .. k)))
  end
  -- The answer holds the next slot back until at + window + margin; one from longer ago than
  -- that holds nothing back, and keeps nothing alive.
  if redis.call('HSETNX', key, 'a' .. k, ms(at)) == 1 and at + window + margin > now then
    keep_until(at + window + margin, now)
  end
  return 1
end

if op == 'drop' then
  local k = tonumber(ARGV[2])
  if not known(k, ARGV[3]) then
    return 0
  end
  if redis.call('HEXISTS', key, 'a' .. k) == 0 then
    redis.call('HSET', key, 'v' .. k, '1')
  end
  return 1
end

if op == 'beat' then
  local now = clock(ARGV[2])
  local stale = tonumber(ARGV[4]) or 0
  local lost = {}
  for i = 5, #ARGV do
    local k = ARGV[i]
    if known(k, ARGV[3]) and not forfeited(k, stale, now) then
      redis.call('HSET', key, 'h' .. k, ms(now))
    else
      lost[#lost + 1] = tonumber(k)
    end
  end
  return lost
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
