-- webhook_result.lua: record attempts and move the queues on.
-- ARGV: P, group, now_ms, cap, then per result 7 values: member, sub, head,
-- outcome ("ok", "retry", "dead", "drop"), next_due_ms, event id, attempt
-- JSON ('' = do not record).
-- ok/dead/drop pop the head (dead also files the event id in the dead-letter
-- set) and make the session's next event due; when every subscription is
-- done with a stream entry it is acknowledged. A result for a head that is
-- no longer at the front (a lease that expired and was taken over) is only
-- recorded.
local P, group, now, cap = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local due, stream = k(P, 'wh', 'due'), k(P, 'events')
local acked = 0
for i = 5, #ARGV, 7 do
  local m, sub, head, outcome = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local next_due, eid, att = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  local ses = string.sub(m, #sub + 2)
  local q, tries = k(P, 'wh', sub, 'q', ses), k(P, 'wh', sub, 'tries')
  if att ~= '' then
    local dk = k(P, 'webhook', sub, 'deliveries')
    redis.call('LPUSH', dk, att)
    redis.call('LTRIM', dk, 0, cap - 1)
  end
  if redis.call('LINDEX', q, 0) == head then
    if outcome == 'retry' then
      redis.call('HINCRBY', tries, head, 1)
      redis.call('ZADD', due, next_due, m)
    else
      redis.call('LPOP', q)
      redis.call('HDEL', tries, head)
      if outcome == 'dead' and eid ~= '' then
        redis.call('ZADD', k(P, 'webhook', sub, 'dead'), now, eid)
      elseif outcome == 'ok' and eid ~= '' then
        redis.call('ZREM', k(P, 'webhook', sub, 'dead'), eid)
      end
      if string.sub(head, 1, 2) ~= 'r:' then
        local mk = k(P, 'wh', 'ev', head)
        if redis.call('DECR', mk) <= 0 then
          redis.call('DEL', mk)
          acked = acked + redis.call('XACK', stream, group, head)
        end
      end
      if redis.call('LLEN', q) > 0 then
        redis.call('ZADD', due, now, m)
      else
        redis.call('ZREM', due, m)
      end
    end
  end
end
return acked
