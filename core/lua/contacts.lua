-- contacts.lua: contacts as the business sees and edits them
-- (core/og_contacts.c).
-- ARGV[1] = P, [2] = op:
--   "get"   [3] contact id -> {'ok', json} | err not_found
--   "patch" [3] contact id, then field/value pairs (name, email, phone,
--           followups_opt_out = '1' | '0') -> {'ok', json} | err not_found.
--           The business sets a contact's name, e-mail or phone, or opts it
--           out of follow-ups (PATCH /api/v1/contacts/{id}). The fields set
--           are added to the contact's 'locked' list, so the next inbound
--           message (ingest.lua) does not overwrite them with the platform's
--           profile; sessions and events render the contact from its
--           fields, so they show the change at once. Values were
--           validated in C; '' clears.
-- Every op replies {'ok', ...} or {'err', code, message} (og_script.h).
local P, op, cid = ARGV[1], ARGV[2], ARGV[3]
local ckey = k(P, 'con', cid)
if redis.call('EXISTS', ckey) == 0 then return {'err', 'not_found', 'no such contact'} end
if op == 'get' then
  return {'ok', contact_json(P, cid)}
elseif op == 'patch' then
  local locked = redis.call('HGET', ckey, 'locked') or ''
  local set = {}
  for i = 4, #ARGV, 2 do
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
  return {'ok', contact_render(P, cid)}
end
return {'err', 'internal', 'contacts.lua: unknown op ' .. tostring(op)}
