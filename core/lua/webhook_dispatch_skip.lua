-- webhook_dispatch_skip.lua: with no subscription at all, no event appended so far is
-- owed to anyone: move the group "webhooks" to the end of the stream, so
-- that an idle dispatcher does not read (and acknowledge) every event. It
-- is atomic with the creation of a subscription (webhook_admin.lua writes
-- P:webhooks), so an event appended once a subscription exists is never
-- skipped. Entries already read stay pending and are handled as usual.
-- ARGV: P, group. Replies {'ok', 1} when it skipped, {'ok', 0} when a
-- subscription exists (og_script.h).
local P, group = ARGV[1], ARGV[2]
if redis.call('HLEN', P .. ':webhooks') > 0 then return {'ok', 0} end
redis.call('XGROUP', 'SETID', P .. ':events', group, '$')
return {'ok', 1}
