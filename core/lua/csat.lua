-- csat.lua: satisfaction ratings (og_csat.h). A session is rated once: the
-- first answer is kept in its hash (field csat, the JSON the session shows)
-- and later ones are refused, never overwritten.
-- ARGV[1] = P, ARGV[2] = op:
--   "submit" [3] session id [4] score [5] scale [6] comment JSON ('null' for
--            none) [7] now_iso [8] event id [9] who answers (a contact id,
--            or '' for a signed link) -> {'ok', csat JSON}; conflict
--            'already_rated' when the session has a rating; not_found.
--            Emits csat.submitted {"session","csat"} and writes the
--            timeline's csat entry.
local P, op = ARGV[1], ARGV[2]

if op == 'submit' then
  local sid, score, scale, comment, now_iso = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  local skey = k(P, 'ses', sid)
  local s = hgetall(skey)
  if not s.id then return {'err', 'not_found', 'no such session'} end
  if s.csat and s.csat ~= '' then
    return {'err', 'conflict', 'already_rated'}
  end
  local cj = table.concat({'{"score":', score, ',"scale":', scale, ',"comment":', comment,
    ',"at":"', now_iso, '"}'})
  redis.call('HSET', skey, 'csat', cj)
  s.csat = cj
  local by = ARGV[9]
  local who
  if by ~= '' then
    who = tl_contact(by, redis.call('HGET', k(P, 'con', by), 'name'))
  else
    who = tl_contact(s.contact_id, redis.call('HGET', k(P, 'con', s.contact_id or ''), 'name'))
  end
  emit(P, ARGV[8], 'csat.submitted', sid, now_iso,
    '{"session":' .. session_render(P, s) .. ',"csat":' .. cj .. '}')
  tl_add(P, sid, now_iso, 'csat', who, '"score":' .. score .. ',"scale":' .. scale ..
    ',"comment":' .. comment)
  st_csat(P, s, score, scale, ms_of_iso(now_iso)) -- statistics (og_stats.h)
  return {'ok', cj}
end
return {'err', 'invalid', 'unknown op'}
