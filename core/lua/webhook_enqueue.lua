-- webhook_enqueue.lua: fan entries of P:events out to the subscriptions'
-- per-session queues (see core/og_webhooks.h). Idempotent per entry: the
-- marker P:wh:ev:<entry> (how many subscriptions still owe a result) is set
-- once, so an entry read again after XAUTOCLAIM is not queued twice. An
-- entry no subscription wants is acknowledged at once.
-- The caller chose the subscriptions from its copy of them, made at version
-- ver (P:webhooks:ver); if they changed since, nothing is done and it must
-- reload and call again, so a subscription gets every entry read after it
-- was created.
-- ARGV: P, group, now_ms, ver, then per entry: entry id, session, n, sub
-- ids (n). Returns the number of entries queued, or -1 (stale copy).
local P, group, now = ARGV[1], ARGV[2], ARGV[3]
if (redis.call('GET', P .. ':webhooks:ver') or '0') ~= ARGV[4] then return -1 end
local stream, due, WH = P .. ':events', P .. ':wh:due', P .. ':wh:'
local i, queued = 5, 0
while i <= #ARGV do
  local xid, ses, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local mk = WH .. 'ev:' .. xid
  if n == 0 then
    if redis.call('EXISTS', mk) == 0 then redis.call('XACK', stream, group, xid) end
  elseif redis.call('SET', mk, n, 'NX') then
    -- Events without a session have no order to keep: a queue each.
    if ses == '' then ses = '~' .. xid end
    for j = 1, n do
      local sub = ARGV[i + 2 + j]
      if redis.call('RPUSH', WH .. sub .. ':q:' .. ses, xid) == 1 then
        redis.call('ZADD', due, now, sub .. '\t' .. ses)
      end
    end
    queued = queued + 1
  end
  i = i + 3 + n
end
return queued
