-- webhook_admin.lua: changes to subscriptions, each atomic with the bump of
-- P:webhooks:ver that tells every instance's dispatcher to reload. Every op
-- replies {'ok'} or {'err', code, message} (og_script.h).
-- ARGV[1] = P, ARGV[2] = op:
--   put ID JSON CREATE  store; CREATE "1" refuses an existing id ('exists')
--   del ID              remove the subscription, its attempts, dead letters,
--                       lagging mark (stream.lua) and retry counters (queued items are dropped by the
--                       dispatcher as it meets them)
--   sync N (ID JSON)*N  the config's subscriptions: stored ones that came
--                       from the config and are no longer in it are removed
--   off ID REASON       disabled by a 410 (REASON '' clears it)
--   replay ID NOW (SESSION ITEM)*   queue events again for one subscription
--                       (ITEM as in webhook_dispatch_read.lua, head "r:<entry>", n 0)
local P, op = ARGV[1], ARGV[2]
local subs, off, ver = k(P, 'webhooks'), k(P, 'webhooks', 'off'), k(P, 'webhooks', 'ver')
if op == 'put' then
  if ARGV[5] == '1' and redis.call('HEXISTS', subs, ARGV[3]) == 1 then
    return {'err', 'conflict', 'a webhook with this id exists'}
  end
  redis.call('HSET', subs, ARGV[3], ARGV[4])
  redis.call('INCR', ver)
  return {'ok'}
elseif op == 'del' then
  local id = ARGV[3]
  if redis.call('HDEL', subs, id) == 0 then return {'err', 'not_found', 'no such webhook'} end
  redis.call('HDEL', off, id)
  redis.call('HDEL', k(P, 'webhooks', 'lag'), id)
  redis.call('DEL', k(P, 'webhook', id, 'deliveries'), k(P, 'webhook', id, 'dead'),
    k(P, 'wh', id, 'tries'))
  redis.call('INCR', ver)
  return {'ok'}
elseif op == 'sync' then
  local n = tonumber(ARGV[3])
  local keep = {}
  for i = 0, n - 1 do
    local id, j = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
    keep[id] = true
    redis.call('HSET', subs, id, j)
  end
  local all = redis.call('HGETALL', subs)
  for i = 1, #all, 2 do
    if not keep[all[i]] and string.find(all[i + 1], '"from_config":true', 1, true) then
      redis.call('HDEL', subs, all[i])
    end
  end
  redis.call('INCR', ver)
  return {'ok'}
elseif op == 'off' then
  if ARGV[4] == '' then redis.call('HDEL', off, ARGV[3])
  elseif redis.call('HEXISTS', subs, ARGV[3]) == 1 then redis.call('HSET', off, ARGV[3], ARGV[4]) end
  redis.call('INCR', ver)
  return {'ok'}
elseif op == 'replay' then
  local id, now = ARGV[3], ARGV[4]
  local due = k(P, 'wh', 'due')
  for i = 5, #ARGV, 2 do
    local ses, item = ARGV[i], ARGV[i + 1]
    if ses == '' then ses = '~' .. string.match(item, '^[^\t]*') end
    if redis.call('RPUSH', k(P, 'wh', id, 'q', ses), item) == 1 then
      redis.call('ZADD', due, now, id .. '\t' .. ses)
    end
  end
  return {'ok'}
end
return {'err', 'internal', 'webhook_admin.lua: unknown op ' .. tostring(op)}
