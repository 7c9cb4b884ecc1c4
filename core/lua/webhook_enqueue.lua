-- webhook_enqueue.lua: fan entries of P:events out to the subscriptions'
-- per-session queues (see core/og_webhooks.h) as items
-- "<entry>\t<n>\t<event id>\t<type>". P:wh:owe holds, per entry queued and not
-- yet acknowledged, how many subscriptions still owe a result. An entry no
-- subscription wants is acknowledged at once.
-- Idempotent per entry: entries read for the first time (fresh = "1", from
-- XREADGROUP ">") cannot have been queued before; entries read again
-- (XAUTOCLAIM) are queued only when P:wh:owe does not know them.
-- The caller chose the subscriptions from its copy of them, made at version
-- ver (P:webhooks:ver); if they changed since, nothing is done and it must
-- reload and call again, so a subscription gets every entry read after it
-- was created.
-- ARGV: P, group, now_ms, ver, fresh, then per entry: entry id, session,
-- item, n, sub ids (n). Returns the number of entries queued, or -1 (stale
-- copy).
local P, group, now, fresh = ARGV[1], ARGV[2], ARGV[3], ARGV[5] == '1'
if (redis.call('GET', P .. ':webhooks:ver') or '0') ~= ARGV[4] then return -1 end
local stream, due, owe, WH = P .. ':events', P .. ':wh:due', P .. ':wh:owe', P .. ':wh:'
local i, queued, acks, owed = 6, 0, {}, {}
while i <= #ARGV do
  local xid, ses, item, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local known = not fresh and redis.call('HEXISTS', owe, xid) == 1
  if n == 0 then
    if not known then acks[#acks + 1] = xid end
  elseif not known then
    owed[#owed + 1] = xid
    owed[#owed + 1] = n
    -- Events without a session have no order to keep: a queue each.
    if ses == '' then ses = '~' .. xid end
    for j = 1, n do
      local sub = ARGV[i + 3 + j]
      if redis.call('RPUSH', WH .. sub .. ':q:' .. ses, item) == 1 then
        redis.call('ZADD', due, now, sub .. '\t' .. ses)
      end
    end
    queued = queued + 1
  end
  i = i + 4 + n
end
if #owed > 0 then redis.call('HSET', owe, unpack(owed)) end
if #acks > 0 then redis.call('XACK', stream, group, unpack(acks)) end
return queued
