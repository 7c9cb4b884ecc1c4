-- webhook_claim.lua: take up to max due (subscription, session) queues and
-- lease them: the score moves to now + lease, so with several instances
-- exactly one claims each, and a claimer that dies lets it fall due again.
-- ARGV: P, now_ms, lease_ms, max.
-- Returns per claimed queue {member, sub, head, failed_tries, event_id,
-- type, event_json}; head is the stream entry id ("r:" prefix = a replay);
-- event_json is '' when the stream no longer holds the entry.
local P, now, lease, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local due, stream = k(P, 'wh', 'due'), k(P, 'events')
local out = {}
local members = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, max)
for _, m in ipairs(members) do
  local tab = string.find(m, '\t', 1, true)
  local sub, ses = string.sub(m, 1, tab - 1), string.sub(m, tab + 1)
  local head = redis.call('LINDEX', k(P, 'wh', sub, 'q', ses), 0)
  if not head then
    redis.call('ZREM', due, m)
  else
    redis.call('ZADD', due, now + lease, m)
    local xid = head
    if string.sub(head, 1, 2) == 'r:' then xid = string.sub(head, 3) end
    local tries = redis.call('HGET', k(P, 'wh', sub, 'tries'), head) or '0'
    local eid, etype, ev = '', '', ''
    local e = redis.call('XRANGE', stream, xid, xid)
    if e[1] then
      local f = e[1][2]
      for x = 1, #f, 2 do
        if f[x] == 'event' then ev = f[x + 1]
        elseif f[x] == 'id' then eid = f[x + 1]
        elseif f[x] == 'type' then etype = f[x + 1] end
      end
    end
    out[#out + 1] = {m, sub, head, tries, eid, etype, ev}
  end
end
return out
