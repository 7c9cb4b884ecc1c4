-- contact_patch.lua: the business sets a contact's name, e-mail or phone,
-- or opts it out of follow-ups (PATCH /api/v1/contacts/{id}).
-- The fields set are added to the contact's 'locked' list, so the next
-- inbound message (ingest.lua) does not overwrite them with the platform's
-- profile; the stored JSON is re-rendered in the same step, so sessions and
-- events show the change at once. Values were validated in C; '' clears.
-- ARGV: P, contact id, then field/value pairs (name, email, phone,
-- followups_opt_out = '1' | '0').
-- Returns the contact JSON, or nil when there is no such contact.
local P, cid = ARGV[1], ARGV[2]
local ckey = k(P, 'con', cid)
if redis.call('EXISTS', ckey) == 0 then return nil end
local locked = redis.call('HGET', ckey, 'locked') or ''
local set = {}
for i = 3, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  set[#set + 1] = f; set[#set + 1] = v
  if f ~= 'followups_opt_out' then
    local found = false
    for l in string.gmatch(locked, '[^,]+') do if l == f then found = true end end
    if not found then locked = (locked == '' and f) or (locked .. ',' .. f) end
  end
end
set[#set + 1] = 'locked'; set[#set + 1] = locked
redis.call('HSET', ckey, unpack(set))
return contact_render(P, cid)
