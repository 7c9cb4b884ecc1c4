-- webhook_dispatch_fetch.lua: the event JSON of stream entries, for queue
-- items whose body the dispatcher does not hold (read by another instance or
-- before a restart, or dropped from its cache; core/og_webhook_dispatch.h).
-- ARGV: P, entry ids. Replies {'ok', body...}: one string per entry, '' when
-- the stream no longer holds it.
local stream, out = ARGV[1] .. ':events', {'ok'}
for i = 2, #ARGV do
  local e, ev = redis.call('XRANGE', stream, ARGV[i], ARGV[i]), ''
  if e[1] then
    local f = e[1][2]
    for x = 1, #f, 2 do
      if f[x] == 'event' then ev = f[x + 1] end
    end
  end
  out[#out + 1] = ev
end
return out
