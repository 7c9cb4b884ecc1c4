-- prelude.lua: shared by every omnigate script (prepended at load time).
--
-- Key layout. P is the configured prefix wrapped as a hash tag, "{og}", so
-- every key of one deployment lives in one Redis Cluster slot and several
-- deployments can share one Redis.
--   P:con:<id>                 hash  contact (its JSON is rendered from the fields:
--                                    contact_fmt; older ones also have j, unused)
--   P:contact:<ch>:<ext>       string contact id of an external id, for a contact that
--                                    began in a group thread or the web chat; one that
--                                    began in its own thread is named by that thread's
--                                    session (contact_of: one key less per contact)
--   P:ses:<id>                 hash  session
--   P:ses:<id>:msgs            zset  message ids (score 0, ordered by id = time;
--                                    absent while the session has one: m0, msgs_add)
--   P:th:<ch>:<bucket>         hash  thread -> its current session (thread_get below;
--                                    older versions: string P:thread:<ch>:<thread>)
--   P:msg:<id>                 hash  message: m (a customer's, compact: msg_pack) or j
--                                    (JSON without status/error), st (status; absent
--                                    beside m: delivered), err (error JSON), sid
--   P:raw:<id>                 string an inbound message's raw platform payload,
--                                    expiring after the channel's store_raw
--   P:pm:<ch>:<bucket>         hash  provider message id -> message id (pmid_get below;
--                                    older versions: string P:pmid:<ch>:<provider id>)
--   P:dedup:<ch>:<key>         string message id, expires after the dedup TTL
--   P:idx:all / P:idx:st:<status>  zset session ids (lex order); older versions also
--                                    kept P:idx:ch:<ch> (#22: a listing by channel
--                                    filters idx:all, as one by status and channel does)
--   P:queue:<policy>           zset  sessions waiting for routing (score = ms)
--   P:events                   stream events (fields: id, type, session, event); trimmed
--                                    by stream.lua only below what every group owes, or
--                                    past events.max_bytes
--   P:state:<ch>               hash  connector state (polling offsets)
--   P:webhooks                 hash  webhook subscriptions: id -> JSON with secrets
--                                    (config ones synced at start; never logged)
--   P:webhooks:off / :ver      hash id -> why a 410 disabled it / string change counter
--   P:webhooks:lag             hash  id -> its lagging mark (stream.lua): "count\tfirst event\t
--                                    first entry\tlast event\tlast entry\tsince ms"
--   P:wh:owe                   hash  stream entry queued for several subscriptions ->
--                                    those still owing a result; at 0 the entry is
--                                    XACKed (group "webhooks")
--   P:wh:<sub>:q:<session>     list  events queued for one subscription and session,
--                                    each "<entry>\t<n>\t<event id>\t<type>"
--                                    ("r:<entry>" and n 0 for a replay)
--   P:wh:due                   zset  "<sub>\t<session>" queues due at score (ms); a
--                                    claim moves the score to now + lease
--   P:wh:<sub>:tries           hash  queue head -> failed attempts so far
--   P:webhook:<sub>:deliveries list  attempts, newest first, capped at 1000
--   P:webhook:<sub>:dead       zset  dead-lettered event ids (score = ms)
--   conversation operations (#19):
--   P:ses:<id>:tl              list  the session's timeline, oldest first (tl_add below;
--                                    absent while a session's hash implies it: tl0)
--   P:flagged                  zset  ids of messages with sensitive words (score 0, lex
--                                    order = time; flag_message below)
--   P:agent:<id>:deleted       hash  a deleted agent's record (agents.lua: renamed from
--                                    P:agent:<id>, so sign-in and routing no longer find it)
--   P:agents:deleted           set   the deleted agents
--   P:groups                   hash  groups made through the API: name -> created_at
--                                    (members are P:group:<name>, groups.lua)
--   P:canned:<id>              hash  a canned response (canned.lua)
--   P:canned:sc:<scope>        hash  a scope's canned responses: folded shortcut -> id
--   P:con:<id> fields locked (comma list of fields the API set, ingest keeps
--                                    them) and followups_opt_out ("1" = opted out)
--   P:timers:silence           zset  "<rule>:<session>" -> due ms (customer_silent rules)
--   P:followups:due            zset  follow-up id -> due ms (first send, retries, leases)
--   P:followup:<id>            hash  one follow-up (rule, session, status, attempts...)
--   P:followup:<id>:attempts   list  JSON of every try, oldest first
--   P:ses:<id>:followups       zset  the session's follow-up ids (lex order = time)
--   P:fupkey:<rule>:<trigger>  string follow-up id for one trigger (dedupe, 8 days)
--   P:outbox                   stream outbound sends {m = message id}; group "senders"
--   P:outbox:retry             zset  message ids waiting for a retry (score = due ms)
--   P:rate:<ch>                string earliest ms the channel's next send may start
--   P:pstatus:<ch>:<pmid>      hash  a status that came before its send's answer (1 h)
--   P:sdedup:<ch>:<key>        string status updates seen (dedup TTL)
--   P:timers:window            zset  sessions whose service window closes (score = ms)
--   P:instances                set   ids of the instances that have beaten (instances.lua)
--   P:inst:<id>                string an instance's heartbeat (expires: it is dead)
--   P:inst:<id>:held           hash  its leases: "<zset key>\n<member>" -> lease end ms
--   outbound messages' hashes add: dir "out", ch, att (attempts), sent_ms, pmid, lerr
--   routing and agents (route.lua, agents.lua):
--   P:agent:<id>               hash  agent: id, name, email, role, groups (JSON), max_chats,
--                                    max_nrt ('' = unlimited), allowed_ips (JSON), presence,
--                                    presence_since(_ms), token_sha (hex SHA-256), chats / nrt
--                                    (open live / e-mail sessions), last_ms, created_at
--   P:agent:<id>:sessions      set   the agent's open sessions (|set| = chats + nrt)
--   P:agent:<id>:presence      hash  ms spent per state: "<state>" and "<YYYY-MM-DD>:<state>"
--   P:agent:<id>:read          hash  session id -> last message id the agent has read
--   P:agent_email:<email>      string agent id
--   P:agent_token:<sha256 hex> string agent id
--   sign-in (auth.lua): P:agent:<id> fields pw (argon2id), pw_set_at, link_sha;
--   P:auth:ses:<sha> (cookie session), P:agent:<id>:auth (its sessions),
--   P:auth:fail:a:<sha> / P:auth:fail:ip:<ip> (failure counters), P:auth:link:<sha>
--   P:agents / P:online        set   every agent / the agents online now
--   P:group:<name>             set   agent ids of a group
--   P:rr:<policy>:<level>      string the last agent a sequential level assigned to
--   P:idx:agent:<id> / P:idx:group:<name>  zset session ids assigned (lex order)
--   P:timers:autoforward       zset  session -> due ms of an unanswered assignment (the
--                                    reply script ZREMs it)
--   P:timers:archive           zset  closed session -> due ms of archiving
--   P:arch:due / :lease / :loc / :segs / :rewrite / :backfill  the archive out of Redis
--                                    (retention.archive_after_days; archive.lua)
--   session hashes add: group, level, level_idx, assigned_at, af_agent, queue_group,
--                       queue_level, transferred_from, transferred_comment, archived_at
--   automatic texts and chat goals (#19.3, #19.5; og_texts.h, og_goals.h):
--   P:texts                    hash  channel -> its automatic texts as JSON, from the config
--                                    ({"greeting":1,..,"to":ms,"ac":ms}; texts.lua sync)
--   P:timers:texts             zset  "<sid>|<kind>|<ms>|<agent>" -> due ms: automatic texts
--                                    to render and send (a claim moves the score to now +
--                                    lease; sending ZREMs it, so one instance sends each)
--   P:timers:idle              zset  session -> when the customer-timeout prompt is due
--   P:timers:autoclose         zset  session -> when the prompted session closes
--   P:timers:goal              zset  session -> when its goal window ends (goal.missed)
--   P:goal:<ch>                hash  the channel's goal: event, days, src (config | api),
--                                    updated_at, updated_by
--   P:con:<id>:goals           set   the contact's sessions with an open goal window
--   P:stats:goals:<YYYY-MM-DD> hash  per UTC day: closed|achieved|missed:ch:<ch> and
--                                    closed|achieved|missed:agent:<id> (goal_count)
--   session hashes add: idle ('1' waiting for the customer, '2' prompted), g_st, g_ev,
--                       g_days, g_start, g_start_ms, g_end_ms, g_at, g_agent, g_new,
--                       g_hold (goal_json below)
--
-- Cost matters here: every redis.call that writes is also appended to the
-- AOF, and cjson.encode is the slowest string operation we use. So values
-- that are ours and need no escaping (ids, timestamps, statuses, channel
-- ids) are quoted with q(); user text arrives JSON-encoded from C.
--
-- k(P, parts...) is the key P:part:part: one concatenation, no table (a
-- table and table.concat cost ~1.3 us a key in this Lua, and a message's
-- ingest builds about twenty keys). Up to four parts; a fifth is an error.
local function k(P, a, b, c, d, e)
  if e ~= nil then error('k: more than four key parts') end
  if d ~= nil then return P .. ':' .. a .. ':' .. b .. ':' .. c .. ':' .. d end
  if c ~= nil then return P .. ':' .. a .. ':' .. b .. ':' .. c end
  if b ~= nil then return P .. ':' .. a .. ':' .. b end
  return P .. ':' .. a
end

-- Quotes a value that needs no escaping; '' and nil are null.
local function q(v)
  if v == nil or v == false or v == '' then return 'null' end
  return '"' .. v .. '"'
end
-- Encodes any string (user input); '' and nil are null.
local function js(v)
  if v == nil or v == false or v == '' then return 'null' end
  return cjson.encode(v)
end
local function raw_or(v, dflt)
  if v == nil or v == false or v == '' then return dflt end
  return v
end

local function hgetall(key)
  local flat = redis.call('HGETALL', key)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

-- A contact's JSON from its fields (a table: hgetall, or HMGET CON_FIELDS).
-- It is rendered when needed, not stored: a stored copy cost each contact
-- about as much as its fields (#22). Contacts written before kept it in
-- field 'j'; contact_render drops it at their next change.
local CON_FIELDS = {'id', 'channel', 'external_id', 'name', 'username', 'avatar_url', 'phone',
  'email', 'followups_opt_out', 'created_at'}
-- contact_fmt_v takes CON_FIELDS' values in that order (false or nil for
-- an absent one), as an HMGET gives them: no table to build first.
local function contact_fmt_v(id, ch, ext, name, username, avatar, phone, email, opt_out, created)
  return table.concat({'{"id":', q(id), ',"channel":', q(ch),
    ',"external_id":', js(ext), ',"name":', js(name),
    ',"username":', js(username), ',"avatar_url":', js(avatar),
    ',"phone":', js(phone), ',"email":', js(email),
    ',"followups_opt_out":', (opt_out == '1') and 'true' or 'false',
    ',"created_at":', q(created), '}'})
end
local function contact_fmt(c)
  return contact_fmt_v(c.id, c.channel, c.external_id, c.name, c.username, c.avatar_url, c.phone,
    c.email, c.followups_opt_out, c.created_at)
end
-- The same from an HMGET of CON_FIELDS (in that order) and more after them.
local function contact_fmt_list(v)
  return contact_fmt_v(v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10])
end

local function contact_json(P, cid)
  local v = redis.call('HMGET', k(P, 'con', cid or ''), unpack(CON_FIELDS))
  if not v[1] then return 'null' end
  return contact_fmt_list(v)
end

-- The contact's JSON after a change to it (an older contact's stored copy,
-- now stale, is dropped).
local function contact_render(P, cid)
  redis.call('HDEL', k(P, 'con', cid), 'j')
  return contact_json(P, cid)
end

-- The bucket hash P:<kind>:<ch>:<b> that holds id as a field (#22), b the
-- first three hex digits of the id's SHA-1: 4,096 buckets a channel. A
-- bucket stays a small listpack up to about 2 million ids a channel
-- (hash-max-listpack-entries 512), and a hashtable (still O(1)) beyond. A
-- top-level key per id cost ~170 bytes, a field ~50.
local function bucket_key(P, kind, ch, id)
  return P .. ':' .. kind .. ':' .. ch .. ':' .. redis.sha1hex(id):sub(1, 3)
end

-- A thread's current session (#22): field the thread id of bucket
-- P:th:<ch>:<b>, instead of a string key per thread. Older versions wrote
-- P:thread:<ch>:<thread>: thread_get reads it too (the bucket first),
-- thread_set replaces it. hk: the bucket's key when the caller has it
-- already (a new thread is read, then written: one SHA-1, as pmid_get).
local function thread_hkey(P, ch, thread) return bucket_key(P, 'th', ch, thread) end
local function thread_get(P, ch, thread, hk)
  return redis.call('HGET', hk or thread_hkey(P, ch, thread), thread) or
    redis.call('GET', k(P, 'thread', ch, thread))
end
local function thread_set(P, ch, thread, sid, hk)
  redis.call('HSET', hk or thread_hkey(P, ch, thread), thread, sid)
  redis.call('DEL', k(P, 'thread', ch, thread))
end
-- Forgets the thread's session when it is sid; true if it was.
local function thread_del(P, ch, thread, sid)
  local hk = thread_hkey(P, ch, thread)
  if redis.call('HGET', hk, thread) == sid then
    redis.call('HDEL', hk, thread)
    return true
  end
  local tk = k(P, 'thread', ch, thread)
  if redis.call('GET', tk) == sid then
    redis.call('DEL', tk)
    return true
  end
  return false
end

-- The contact id of an external id on a channel, or nil. A contact that
-- began in its own one-to-one thread has no P:contact key: its thread's
-- session names it, or the archive's index when that session is archived
-- (archive.lua writes the key when it drops the session for good). The
-- contact's external id is checked, so a group thread whose id happens to
-- equal it is not taken for it. new_thread: the caller knows the thread
-- has no session.
local function contact_of(P, ch, ext, new_thread)
  local cid = redis.call('GET', k(P, 'contact', ch, ext))
  if cid or new_thread then return cid end
  local sid = thread_get(P, ch, ext)
  if not sid then return nil end
  cid = redis.call('HGET', k(P, 'ses', sid), 'contact_id')
  if not cid then -- archived: "seg, offset, length, contact, channel, thread"
    local loc = redis.call('HGET', k(P, 'arch', 'loc'), sid)
    cid = loc and loc:match('^[^\t]*\t[^\t]*\t[^\t]*\t([^\t]+)\t') or nil
  end
  if cid and redis.call('HGET', k(P, 'con', cid), 'external_id') == ext then return cid end
  return nil
end

-- The customer-service window of the platforms that have one (WhatsApp,
-- Messenger) runs window_ms (the connector's messaging_window_ms, kept on
-- the session by ingest) from the customer's last message.
local function window_ms(s) return tonumber(s.window_ms or '') or 0 end

-- RFC 3339 UTC with milliseconds from Unix ms (as og_time_rfc3339 writes it).
-- Its last answer is kept (a pure function: from call to call too), and
-- iso_seed gives it one the caller has (ingest: C's now): the arithmetic
-- and string.format below cost ~5 us in Redis's Lua, for every session
-- rendered.
local iso_last_ms, iso_last
local function iso_seed(ms, iso) iso_last_ms, iso_last = ms, iso end
local function iso_ms(ms)
  if ms == iso_last_ms then return iso_last end
  local s = math.floor(ms / 1000)
  local days, sod = math.floor(s / 86400), s % 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  iso_last_ms, iso_last = ms, string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
    math.floor(sod / 3600), math.floor(sod / 60) % 60, sod % 60, ms % 1000)
  return iso_last
end
-- Unix ms of an RFC 3339 UTC time as og_time_rfc3339 writes it; nil if not.
local function ms_of_iso(s)
  if not s or #s < 19 then return nil end
  local y, mo, d = tonumber(s:sub(1, 4)), tonumber(s:sub(6, 7)), tonumber(s:sub(9, 10))
  local h, mi, se = tonumber(s:sub(12, 13)), tonumber(s:sub(15, 16)), tonumber(s:sub(18, 19))
  if not (y and mo and d and h and mi and se) then return nil end
  local frac = s:sub(20, 20) == '.' and (tonumber(s:sub(21, 23)) or 0) or 0
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = mo > 2 and mo - 3 or mo + 9
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) +
    math.floor((153 * mp + 2) / 5) + d - 1
  local days = era * 146097 + doe - 719468
  return (days * 86400 + h * 3600 + mi * 60 + se) * 1000 + frac
end

local function window_expires(s)
  if window_ms(s) == 0 or not s.last_customer_ms then return 'null' end
  return q(iso_ms(tonumber(s.last_customer_ms) + window_ms(s)))
end

-- Chat goals (og_goals.h). A channel's goal is P:goal:<ch>; a session
-- measures one goal at a time, in its own hash:
--   g_st     absent until an agent's reply starts a measurement, then
--            in_process (the window is open), achieved, missed, or none (the
--            channel had no goal at that reply)
--   g_ev, g_days, g_start (RFC 3339), g_start_ms, g_end_ms, g_at (when
--            achieved), g_agent (whose reply started it): the snapshot
--   g_new    '1': a reopen made the next agent reply measure again
--   g_hold   '1': an agent started the conversation; measuring waits for the
--            customer's answer (ingest clears it)
-- Until a measurement holds, the session shows the channel's current goal.
local goal_cache = {}
local function goal_of(P, ch)
  local g = goal_cache[ch or '']
  if g == nil then
    local h = redis.call('HMGET', k(P, 'goal', ch or ''), 'event', 'days')
    g = h[1] and {ev = h[1], days = tonumber(h[2])} or false
    goal_cache[ch or ''] = g
  end
  return g
end
local function goal_measured(s) return s.g_st ~= nil and s.g_new ~= '1' end
local function goal_status(P, s)
  if goal_measured(s) then return s.g_st end
  return goal_of(P, s.channel) and 'in_process' or 'none'
end
local GOAL_NONE = '{"event":null,"window_days":null,"status":"none","started_at":null,' ..
  '"achieved_at":null}'
local function goal_json(P, s)
  if goal_measured(s) then
    if s.g_st == 'none' then return GOAL_NONE end
    return table.concat({'{"event":', js(s.g_ev), ',"window_days":', s.g_days, ',"status":"',
      s.g_st, '","started_at":', q(s.g_start), ',"achieved_at":', q(s.g_at), '}'})
  end
  local g = goal_of(P, s.channel)
  if not g then return GOAL_NONE end
  return '{"event":' .. js(g.ev) .. ',"window_days":' .. g.days ..
    ',"status":"in_process","started_at":null,"achieved_at":null}'
end

local function absent(v) return v == nil or v == false or v == '' end
-- The later of two stored times (RFC 3339 in one fixed width, so the later
-- sorts last); an absent one ('' too) is the other (og_render.c later).
local function later(a, b)
  if absent(a) then return b end
  if absent(b) then return a end
  return a >= b and a or b
end
-- Renders a session from its hash as a table (hgetall); cj is its
-- contact's JSON when the caller has it at hand (else it is read).
-- last_customer_message_at is last_customer_ms's (older sessions also
-- stored it, written with it: the same).
local function session_render(P, s, cj)
  -- A customer's message writes last_customer_ms only: last_message_at is
  -- the later of it and the stored one (an agent's reply writes that),
  -- else created_at while the session has its first message only (m0);
  -- updated_at is the later of the stored one (else created_at) and it.
  local lc = s.last_customer_ms and iso_ms(tonumber(s.last_customer_ms))
  local lm = later(s.last_message_at, lc)
  if absent(lm) and s.m0 then lm = s.created_at end
  return table.concat({'{"id":', q(s.id), ',"channel":', q(s.channel),
    ',"connector":', q(s.connector), ',"status":', q(s.status),
    ',"contact":', cj or contact_json(P, s.contact_id),
    ',"agent_id":', q(s.agent_id), ',"group":', js(s.group), ',"level":', js(s.level),
    ',"transferred_from":', q(s.transferred_from),
    ',"transferred_comment":', js(s.transferred_comment),
    ',"routing":', js(s.routing), ',"queue_group":', js(s.queue_group),
    ',"created_at":', q(s.created_at),
    ',"updated_at":', q(later(absent(s.updated_at) and s.created_at or s.updated_at, lm)),
    ',"first_reply_at":', q(s.first_reply_at), ',"last_message_at":', q(lm),
    ',"last_customer_message_at":', q(lc or s.last_customer_message_at),
    ',"window_expires_at":', window_expires(s),
    ',"closed_at":', q(s.closed_at), ',"close_reason":', js(s.close_reason),
    ',"success_codes":', raw_or(s.success_codes, '[]'),
    ',"csat":', raw_or(s.csat, 'null'), ',"goal":', goal_json(P, s), '}'})
end

local function session_json(P, sid)
  local s = hgetall(k(P, 'ses', sid))
  if not s.id then return nil end
  return session_render(P, s)
end

-- A customer's message is stored compactly (#22): field m of its hash is
--   "<sender contact id>\t<sender name JSON>\t<reply_to message id>\t<tail>"
-- where tail is the middle part C rendered (kind .. created_at, flags,
-- payload) with each known key name "<key>": replaced by one control byte
-- (MSG_KEYS; JSON has no raw control bytes, and a key is recognised only
-- after { or , outside a string, so the coding is exact). C codes the tail
-- (og_compact.h: a pattern's scan of it here cost ~30 us a message) and
-- decodes it too: keep MSG_KEYS in step with og_compact.c's list. The id,
-- session_id and direction are not stored: the key, sid and "in" give them.
-- Older messages, and every agent's or system message, keep field j: the
-- JSON without its status and closing brace. msg_j renders either.
local MSG_KEYS = {'kind', 'text', 'attachments', 'location', 'provider_message_id',
  'reply_to_provider_id', 'created_at', 'payload', 'flags', 'sensitive_terms', 'url',
  'source_url', 'media_id', 'mime_type', 'name', 'size', 'latitude', 'longitude', 'address',
  'upload_id'}
-- The decoding table, built at the first use (a library's load-time code
-- has no string library) and never changed after.
local msg_dec_t
local function msg_codes()
  msg_dec_t = {}
  for i, key in ipairs(MSG_KEYS) do
    -- codes 1-31 less tab, newline and carriage return (JSON whitespace)
    msg_dec_t[string.char(i + (i >= 9 and 2 or 0) + (i >= 11 and 1 or 0))] = '"' .. key .. '":'
  end
end
-- The m field of a customer's message; ctail: its tail coded (by C).
local function msg_pack(cid, name_json, reply_to, ctail)
  return table.concat({cid, '\t', name_json, '\t', reply_to or '', '\t', ctail})
end
-- The JSON (without status and closing brace) of message mid from its
-- fields j, m and sid; nil when it has neither.
local function msg_j_of(mid, j, m, sid)
  if j then return j end
  if not m then return nil end
  local cid, name, rt, t = m:match('^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$')
  if not cid then return nil end
  if not msg_dec_t then msg_codes() end
  return table.concat({'{"id":"', mid, '","session_id":"', sid or '', '","direction":"in",',
    (t:gsub('[\1-\8\11\12\14-\31]', msg_dec_t)), ',"sender":{"type":"contact","id":"', cid,
    '","name":', name, '},"reply_to":', q(rt)})
end
-- The same from the message's hash as a table (hgetall).
local function msg_j_h(mid, h) return msg_j_of(mid, h.j, h.m, h.sid) end
-- Provider message ids -> message ids (#22): field the provider's id of
-- bucket P:pm:<ch>:<b> (bucket_key). Older versions wrote a string key
-- P:pmid:<ch>:<id> each (and an archived session restored from then brings
-- those back): pmid_get reads them too. hk: the bucket's key when the
-- caller has it already (a SHA-1 here costs ~5,500 instructions).
local function pmid_hkey(P, ch, pmid) return bucket_key(P, 'pm', ch, pmid) end
local function pmid_get(P, ch, pmid, hk)
  return redis.call('HGET', hk or pmid_hkey(P, ch, pmid), pmid) or
    redis.call('GET', k(P, 'pmid', ch, pmid))
end
local function pmid_set(P, ch, pmid, mid, hk)
  redis.call('HSET', hk or pmid_hkey(P, ch, pmid), pmid, mid)
end

local function msg_j(P, mid)
  local m = redis.call('HMGET', k(P, 'msg', mid), 'j', 'm', 'sid')
  return msg_j_of(mid, m[1], m[2], m[3])
end

-- A stored message's JSON: the immutable part plus its current status.
local function message_json(P, mid)
  local m = redis.call('HMGET', k(P, 'msg', mid), 'j', 'st', 'err', 'm', 'sid')
  local j = msg_j_of(mid, m[1], m[4], m[5])
  if not j then return nil end
  -- a compact one (a customer's) without st is delivered (ingest.lua)
  local st = m[2] or (m[4] and 'delivered')
  return j .. ',"status":' .. q(st) .. ',"error":' .. raw_or(m[3], 'null') .. '}'
end

-- Appends one event to the stream. data is a JSON object text, or a table
-- of the texts that make it: the event is then built in one piece (a
-- message's event is its largest string, and each copy costs Redis's thread).
local function emit(P, eid, etype, sid, now_iso, data)
  local t = {'{"id":"', eid, '","type":"', etype, '","created_at":"', now_iso, '","data":'}
  if type(data) == 'table' then
    for i = 1, #data do t[7 + i] = data[i] end
  else
    t[8] = data
  end
  t[#t + 1] = '}'
  redis.call('XADD', k(P, 'events'), '*',
    'id', eid, 'type', etype, 'session', sid or '', 'event', table.concat(t))
end

-- Leases in due zsets (follow-ups, webhook queues): a claim moves the
-- member's score to the lease's end, and records it under the claiming
-- instance (inst, '' for none), so that instances.lua can hand the lease
-- back at once when that instance dies; the step that settles the claim
-- forgets it.
local function lease_hold(P, inst, zkey, member, until_ms)
  redis.call('ZADD', zkey, until_ms, member)
  if inst and inst ~= '' then
    redis.call('HSET', k(P, 'inst', inst, 'held'), zkey .. '\n' .. member, until_ms)
  end
end

local function lease_drop(P, inst, zkey, member)
  if inst and inst ~= '' then redis.call('HDEL', k(P, 'inst', inst, 'held'), zkey .. '\n' .. member) end
end

-- An archived session's record (archive.lua, og_archive.h; rec decoded)
-- written back into Redis, key by key as it was. only_missing: keys that
-- exist are left alone. Returns the keys written.
local function record_write(P, rec, only_missing)
  local written = {}
  for _, e in ipairs(rec.keys) do
    local key, t, v = P .. ':' .. e[1], e[2], e[3]
    if not only_missing or redis.call('EXISTS', key) == 0 then
      redis.call('DEL', key)
      if #v > 0 then
        if t == 'hash' then redis.call('HSET', key, unpack(v))
        elseif t == 'zset' then
          local args = {}
          for i = 1, #v, 2 do args[#args + 1] = v[i + 1]; args[#args + 1] = v[i] end
          redis.call('ZADD', key, unpack(args))
        elseif t == 'list' then redis.call('RPUSH', key, unpack(v))
        elseif t == 'set' then redis.call('SADD', key, unpack(v))
        elseif t == 'string' then redis.call('SET', key, v[1])
        end
        written[#written + 1] = key
      end
    end
  end
  return written
end

-- Moves a session between status indexes.
local function set_status(P, sid, old, new)
  if old == new then return end
  if old and old ~= '' then redis.call('ZREM', k(P, 'idx', 'st', old), sid) end
  redis.call('ZADD', k(P, 'idx', 'st', new), 0, sid)
  redis.call('HSET', k(P, 'ses', sid), 'status', new)
end

-- An agent's groups: its "groups" field (a JSON array: what its token and
-- cookie carry into the access rule) and the sets P:group:<name> that
-- routing resolves "group:NAME" members through. Both change only here
-- (agents.lua's put and delete, groups.lua's members and rename), so they
-- cannot disagree. new_json is a JSON array text.
local function agent_groups_set(P, id, old_json, new_json)
  for _, g in ipairs(cjson.decode(old_json or '[]')) do redis.call('SREM', k(P, 'group', g), id) end
  for _, g in ipairs(cjson.decode(new_json)) do redis.call('SADD', k(P, 'group', g), id) end
  redis.call('HSET', k(P, 'agent', id), 'groups', new_json)
end

-- An agent takes on a session (routing.lua's assignments, and a conversation
-- an agent starts in outbox_reply.lua): its load (chats, or nrt for a
-- non-real-time session), its set of open sessions and the agent index. The
-- load and the set change only together, so they cannot drift.
local function agent_attach(P, sid, aid, nrt, now_ms)
  local ak = k(P, 'agent', aid)
  redis.call('HINCRBY', ak, nrt and 'nrt' or 'chats', 1)
  redis.call('HSET', ak, 'last_ms', now_ms)
  redis.call('SADD', k(P, 'agent', aid, 'sessions'), sid)
  redis.call('ZADD', k(P, 'idx', 'agent', aid), 0, sid)
end

-- The session timeline: what happened to a session and who did it, one JSON
-- entry per event in P:ses:<id>:tl (oldest first, the newest TL_MAX kept):
--   {"at":"<RFC 3339>","kind":"<kind>","by":<who>, ...the kind's fields}
-- where who is {"type":"system"} (routing, timers), {"type":"admin"} (the
-- config's admin token), {"type":"agent","id","name"} or
-- {"type":"contact","id","name"}. Names are written when the entry is, so a
-- timeline keeps them after an agent is renamed or deleted. Every kind is
-- one line of TL_KINDS; adding a kind is adding its line (and writing it
-- with tl_add). A script that writes an unknown kind has a bug and raises.
local TL_MAX = 1000
local TL_KINDS = {
  created = true,        -- channel, origin ("customer" | "agent")
  assigned = true,       -- agent, group, level; by system (routing) or a manager
  taken = true,          -- agent (= by): an agent took it from the queue
  transferred = true,    -- from (agent | null), to (agent | null), group, level, comment
  auto_forwarded = true, -- from, to (agents), level, group: nobody answered in time
  returned = true,       -- from (agent), reason: back in the queue (agent_offline)
  closed = true,         -- agent (who had it), reason, success_codes
  reopened = true,       -- by the customer writing again, or a person (origin "agent":
                         -- an agent's new conversation reopened it)
  archived = true,       -- the archive timer
  auto_text = true,      -- text (greeting|queue|assigned|timeout|closing|csat|csat_thanks), message_id
  goal = true,           -- status, event, window_days, via | reason: a goal's change
  csat = true,           -- score, scale, comment: the satisfaction survey answered
}
-- A session a customer's message created (ingest.lua) has no list yet: its
-- "created" entry is implied by its hash, field tl0 (the sender's name as
-- JSON) with created_at, contact_id and channel; the list is written with
-- that entry first when the next entry comes. Most sessions of one message
-- thus keep no list (#22: about 400 bytes each). tl_range reads both.
local TL0_FIELDS = {'tl0', 'created_at', 'contact_id', 'channel'}
local function tl_created(c) -- c: HMGET TL0_FIELDS
  return table.concat({'{"at":"', c[2], '","kind":"created","by":{"type":"contact","id":',
    q(c[3]), ',"name":', c[1], '},"channel":', q(c[4]), ',"origin":"customer"}'})
end
local function tl_add(P, sid, now_iso, kind, by, fields)
  if not TL_KINDS[kind] then error('timeline: unknown kind ' .. tostring(kind)) end
  local key = k(P, 'ses', sid, 'tl')
  local e = table.concat({'{"at":"', now_iso, '","kind":"', kind, '","by":', by,
    (fields and fields ~= '') and (',' .. fields) or '', '}'})
  local n = redis.call('RPUSH', key, e)
  if n == 1 then -- the first entry written: the implied one goes before it
    local skey = k(P, 'ses', sid)
    local c = redis.call('HMGET', skey, unpack(TL0_FIELDS))
    if c[1] then
      redis.call('LPUSH', key, tl_created(c))
      redis.call('HDEL', skey, 'tl0')
    end
  elseif n > TL_MAX then
    redis.call('LTRIM', key, -TL_MAX, -1)
  end
end
-- Writes a session's implied entry into its list (the archive keeps lists).
local function tl_fill(P, sid)
  local skey = k(P, 'ses', sid)
  local c = redis.call('HMGET', skey, unpack(TL0_FIELDS))
  if not c[1] then return end
  redis.call('LPUSH', k(P, 'ses', sid, 'tl'), tl_created(c))
  redis.call('HDEL', skey, 'tl0')
end
-- The timeline's entries from .. to (LRANGE indexes, from >= 0), and its
-- length, the implied entry included.
local function tl_range(P, sid, from, to)
  local key = k(P, 'ses', sid, 'tl')
  local n = redis.call('LLEN', key)
  if n > 0 then return redis.call('LRANGE', key, from, to), n end
  local c = redis.call('HMGET', k(P, 'ses', sid), unpack(TL0_FIELDS))
  if not c[1] then return {}, 0 end
  if from == 0 then return {tl_created(c)}, 1 end
  return {}, 1
end
-- A session's message ids: zset P:ses:<sid>:msgs, score 0, ordered by id
-- (= time). A session a customer's message created (ingest.lua) keeps that
-- first id in field m0 of its hash instead, and the zset is written with
-- both ids when the second message comes: a session of one message keeps
-- no key for it (#22: about 150 bytes each). Never both at once.
-- msgs_add appends mid; m0: the session's m0 as the caller read it with
-- the whole hash, or nil to read it here.
-- While m0 holds a session's one message, that a customer's message
-- created it, its first statistics episode is implied too (#22): st_fi and
-- st_w are st_t0, st_nin is 1. st_t0 itself, the first episode's start, is
-- created_at's ms while it is not written (ingest.lua writes none; a new
-- episode does: st_episode); older versions wrote it with m0. st_first
-- fills them into a hash table (the statistics' helpers call it);
-- st_first_write writes them (but st_t0) into the hash before anything
-- ends the state: a second message (msgs_add), the archive (msgs_fill), a
-- new episode (st_episode), the statistics' rebuild.
local function st_t0_of(t0, created_at)
  if t0 then return t0 end
  local ms = ms_of_iso(created_at)
  return ms and string.format('%d', ms)
end
local function st_first(s)
  local t0 = s.m0 and not s.st_nin and st_t0_of(s.st_t0, s.created_at)
  if t0 then
    s.st_fi, s.st_w, s.st_nin = s.st_fi or t0, s.st_w or t0, '1'
  end
  return s
end
local function st_first_write(skey)
  local h = redis.call('HMGET', skey, 'm0', 'st_nin', 'st_t0', 'created_at')
  local t0 = h[1] and not h[2] and st_t0_of(h[3], h[4])
  if t0 then redis.call('HSET', skey, 'st_fi', t0, 'st_w', t0, 'st_nin', '1') end
end
local function msgs_add(P, sid, mid, m0)
  local skey = k(P, 'ses', sid)
  if m0 == nil then m0 = redis.call('HGET', skey, 'm0') end
  if m0 then
    st_first_write(skey)
    redis.call('ZADD', skey .. ':msgs', 0, m0, 0, mid)
    redis.call('HDEL', skey, 'm0')
  else
    redis.call('ZADD', skey .. ':msgs', 0, mid)
  end
end
-- Reads the ids as redis.call(cmd, <the zset>, ...) would, m0 included:
-- cmd is ZRANGE or ZREVRANGE (index ranges), ZRANGEBYLEX (min, '+' and an
-- optional LIMIT offset count), ZCARD or ZSCORE. The zset is asked first:
-- only an empty answer (no zset, or nothing in range) looks for m0.
local function msgs_call(P, sid, cmd, a1, a2, ...)
  local mk, r = k(P, 'ses', sid, 'msgs'), nil
  if a1 == nil then r = redis.call(cmd, mk)
  elseif a2 == nil then r = redis.call(cmd, mk, a1)
  else r = redis.call(cmd, mk, a1, a2, ...) end
  if r and r ~= 0 and (type(r) ~= 'table' or #r > 0) then return r end
  local m0 = redis.call('HGET', k(P, 'ses', sid), 'm0')
  if not m0 then return r end
  if cmd == 'ZCARD' then return 1 end
  if cmd == 'ZSCORE' then return (a1 == m0) and '0' or r end
  if cmd == 'ZRANGEBYLEX' then
    local c, v = a1:sub(1, 1), a1:sub(2)
    local lim = {...}
    local in_range = a1 == '-' or (c == '(' and m0 > v) or (c == '[' and m0 >= v)
    if lim[1] == 'LIMIT' and (tonumber(lim[2]) > 0 or tonumber(lim[3]) == 0) then
      in_range = false
    end
    return in_range and {m0} or {}
  end
  -- ZRANGE, ZREVRANGE on one element: index 0, or -1
  local from, to = tonumber(a1), tonumber(a2)
  if from < 0 then from = from + 1 end
  if to < 0 then to = to + 1 end
  return (math.max(from, 0) <= 0 and to >= 0) and {m0} or {}
end
-- Writes a session's m0 into its zset (the archive keeps the zset), and
-- the last_message_at that m0 implied (session_render).
local function msgs_fill(P, sid)
  local skey = k(P, 'ses', sid)
  local m0 = redis.call('HMGET', skey, 'm0', 'last_message_at', 'created_at')
  if not m0[1] then return end
  st_first_write(skey)
  redis.call('ZADD', skey .. ':msgs', 0, m0[1])
  redis.call('HDEL', skey, 'm0')
  if not m0[2] and m0[3] then redis.call('HSET', skey, 'last_message_at', m0[3]) end
end
-- An agent as a timeline shows it, {"id","name"}; null for none.
local function tl_agent(P, aid)
  if not aid or aid == '' then return 'null' end
  return '{"id":' .. q(aid) .. ',"name":' .. js(redis.call('HGET', k(P, 'agent', aid), 'name')) ..
    '}'
end
-- Who acted: '' the system, 'admin' the admin token, a contact id (con_...),
-- else an agent id.
local function tl_by(P, actor)
  if not actor or actor == '' then return '{"type":"system"}' end
  if actor == 'admin' then return '{"type":"admin"}' end
  if actor:sub(1, 4) == 'con_' then
    -- the customer (a web chat visitor ending the conversation)
    return '{"type":"contact","id":' .. q(actor) .. ',"name":' ..
      js(redis.call('HGET', k(P, 'con', actor), 'name')) .. '}'
  end
  return '{"type":"agent",' .. tl_agent(P, actor):sub(2)
end
local function tl_contact(cid, name)
  return '{"type":"contact","id":' .. q(cid) .. ',"name":' .. js(name) .. '}'
end

-- A message with sensitive words (og_sensitive.h): listed in P:flagged for
-- GET /api/v1/flagged (the oldest go past FLAGGED_MAX) and message.flagged
-- emitted. mj is the message JSON with its status; terms a JSON array.
local FLAGGED_MAX = 100000
local function flag_message(P, eid, sid, mid, now_iso, sj, mj, terms)
  local fk = k(P, 'flagged')
  redis.call('ZADD', fk, 0, mid)
  if redis.call('ZCARD', fk) > FLAGGED_MAX then redis.call('ZREMRANGEBYRANK', fk, 0, 0) end
  emit(P, eid, 'message.flagged', sid, now_iso,
    table.concat({'{"session":', sj, ',"message":', mj, ',"terms":', terms, '}'}))
end

-- Automatic texts (og_texts.h): a channel's, from P:texts (texts.lua's sync
-- writes the config there), as a table {greeting=1, queue=1, assigned=1,
-- closing=1, timeout=1, to=ms, ac=ms}; empty when it has none.
local texts_cache = {}
local function texts_of(P, ch)
  local t = texts_cache[ch or '']
  if t == nil then
    local j = redis.call('HGET', k(P, 'texts'), ch or '')
    t = j and cjson.decode(j) or {}
    texts_cache[ch or ''] = t
  end
  return t
end
-- The scripts run as one Redis Function library (og_script.h): this file's
-- top level runs once per FUNCTION LOAD, not per call, so the two caches
-- above would carry one call's goals and texts into the next (after an API
-- change, stale). Every function calls this first.
-- ST_DIRECT (statistics, below): whether this call applies its statistics
-- facts itself (the rebuild) and the facts it has kept so far; ST_BATCH:
-- whether it appends them together at its end (st_flush) and those kept.
local ST_DIRECT = {on = false, buf = {}}
local ST_BATCH = {on = false, buf = {}}
local function call_begin()
  goal_cache, texts_cache = {}, {}
  ST_DIRECT.on, ST_DIRECT.buf = false, {}
  ST_BATCH.on, ST_BATCH.buf = false, {}
  -- not reset: msg_dec_t (constant once built, msg_codes); iso_last_ms,
  -- iso_last (iso_ms's last answer, the same in any call); st_one, st_hour_n,
  -- st_hour_s (st_fact's texts)
end
-- Queues the channel's automatic text of this kind, if it has one, due at
-- due_ms; agent: the agent an "assigned" text names. og_texts_step renders
-- and sends it then, unless the session has moved on (texts.lua).
local function auto_text(P, ch, sid, kind, due_ms, agent)
  if not texts_of(P, ch)[kind] then return end
  redis.call('ZADD', k(P, 'timers', 'texts'), due_ms,
    table.concat({sid, kind, string.format('%d', due_ms), agent or ''}, '|'))
end

-- Statistics (og_stats.h, docs/statistics.md). Counters and sums per UTC
-- hour, kept by the scripts that change the facts, so a query reads small
-- hashes and never scans history. Each fact is added to its hour and its
-- day, so a long period reads days, not hours, and to its hour's totals,
-- kept one hash per day, so an unfiltered query by day or hour reads one
-- hash per day:
--   P:st:<lvl>:<n>  hash, lvl h (n = Unix ms / 3600000, the UTC hour) or d
--       (the UTC day, ms / 86400000):
--     "v\t<ch>\t<agent>\t<group>" -> the ST_N integers below, comma separated
--         (a prefix; the rest are 0): the session's channel, agent and group
--         when the fact happened; presence time has only the agent
--     "c\t<ch>\t<agent>\t<group>" -> closes per success code, "CODE<US>n<RS>..."
--         (st_codes_text)
--   P:st:t:<day>[:<CODE>]  hash, the UTC day's hour totals: "<h>" (0-23) -> the
--       sum of that hour's "v" fields, "c<h>" -> of its "c" fields (st_apply);
--       P:st:tv the UTC hour from which every hour has them
--   P:st:u:<day>  set, the fields of the day's hour keys (P:st:uv the UTC hour
--       from which every hour's are listed)
--   P:st:pending  list, the facts counted but not applied yet ("The write
--       path" below): every reader applies them first
--   P:st:<lvl>:<n>:<CODE>  hash, the same "v" vectors for facts of sessions
--       closed with that code (the close, a goal achieved or a survey after it)
--       and "c" fields with that code's count: all a query filtered by it reads
--   P:st:pres   zset  presence intervals, score = start ms, member
--               "<agent>|<state>|<start ms>|<end ms>" (Agent Activity; rebuild),
--               in pieces of at most a day
--   P:rl:<id>   hash  a report link (report, filters, sha, created_at, created_by,
--               uses, last_used_at, revoked_at); P:rl:sha:<sha256 hex> -> id;
--               P:rls zset of ids (lex order = time); P:rl:<id>:uses list of uses
--               (JSON, newest first, 1000 kept); P:rl:<id>:rate:<hour> uses per hour
-- A session's hash carries what its next facts need: st_t0 (ms the episode
-- started: created or reopened), st_fi (the customer's first message in it),
-- st_fr (the agent's first reply after st_fi), st_ar ('1' an agent has
-- replied), st_w (the first customer message the agent has not answered),
-- st_pro ('1': an agent started the episode, a proactive chat); st_nin and
-- st_nout count the session's customer and agent messages (the export).
-- While a session has one message (m0), st_fi, st_w and st_nin are implied
-- (st_first).
-- The fields of a vector (1-based; the C side, og_stats.c, has the same list):
local ST = {chats = 1, proactive = 2, reactive = 3, missed = 4, dur_sum = 5, dur_n = 6,
  fr_sum = 7, fr_n = 8, res_sum = 9, res_n = 10, msg_in = 11, msg_out = 12, transfers = 13,
  auto_forwards = 14, resp_sum = 15, resp_n = 16, csat_n = 17, csat_sum = 18, csat1 = 19,
  goals_closed = 24, goals_achieved = 25, online = 26, away = 27, offline = 28, new = 29,
  qwait_sum = 30, qwait_n = 31, qwait_max = 32, hist = 33}
-- Response times histogram: upper edges in seconds; the 20th bucket is longer.
local ST_EDGES = {5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800, 3600, 7200,
  14400, 43200, 86400}
local ST_N = 52


-- A success codes JSON array as the tuple keeps it: sorted, comma-joined.
local function st_codes(codes_json)
  local t = cjson.decode(codes_json or '[]')
  table.sort(t)
  return table.concat(t, ',')
end

-- The tuple of a session (a hash table) now: its channel, agent, group, and
-- its codes when it is closed.
local function st_tuple(s)
  local closed = s.status == 'closed' or s.status == 'archived'
  return {s.channel or '', s.agent_id or '', s.group or '',
    closed and st_codes(s.success_codes) or ''}
end

-- The write path (#22; docs/statistics.md). A script that counts a fact
-- computes its hour, tuple, codes and deltas from the session as it is at
-- that moment, as before, but does not write the counters: it appends the
-- fact, a short string, to the list P:st:pending (one RPUSH instead of two
-- vector reads and writes per level and code, and string parsing three
-- times). st_apply takes them in bulk (stats.lua "apply": each instance's
-- statistics worker every ~200 ms, and every statistics read before it
-- reads), sums them per key and field, and writes each field once. Taking
-- and applying are one script, so a fact is applied exactly once whatever
-- the number of instances, and none is lost by a crash. The facts:
--   "v<deltas>\t<hour>\t<ch>\t<agent>\t<group>\t<codes>"  st_add: deltas
--       "<i>:<n>,..." (ST indices), hour = ms / 3600000, codes the closed
--       session's, comma-joined (last: nothing after them is parsed)
--   "c..."  the same for a close, whose codes are counted too (st_close)
--   "p<i>\t<from ms>\t<to ms>\t<agent>"  presence time (ST index i), split
--       over the UTC hours when applied
--   "w<from ms>\t<to ms>\t<ch>\t<group>"  a queue wait (st_q_wait)
--   "m<first hour>\t<last hour>\t<n>"  n waiting at once in each of those
--       hours (st_q_level)
-- Every counter is a sum or a maximum, so applying facts in bulk, in any
-- order, writes what applying them one by one would, and an older instance
-- that still writes its facts inline adds to the same fields. ST_DIRECT.on
-- (the rebuild, bench_stats' fill): the facts are kept in ST_DIRECT.buf and
-- the script applies them itself before it returns. ST_BATCH.on (ingest, a
-- batch of at most 32 messages, og_core.c, a few facts each): they are
-- appended with one RPUSH by st_flush at the call's end (an RPUSH a fact was
-- ~2 us of Redis's thread a message).
local function st_flush(P)
  local b = ST_BATCH.buf
  ST_BATCH.buf = {}
  if #b > 0 then redis.call('RPUSH', P .. ':st:pending', unpack(b)) end
end
local function st_emit(P, fact)
  if ST_DIRECT.on then
    ST_DIRECT.buf[#ST_DIRECT.buf + 1] = fact
  elseif ST_BATCH.on then
    ST_BATCH.buf[#ST_BATCH.buf + 1] = fact
  else
    redis.call('RPUSH', P .. ':st:pending', fact)
  end
end

-- The vector text cur with deltas d applied (nil cur: all zeros). Only the
-- changed numbers are parsed and formatted; the runs between them are copied
-- as they are (string.find is C). A vector has up to ST_N numbers.
local function st_vec_apply(cur, d)
  local idx = {}
  for i in pairs(d) do idx[#idx + 1] = i end
  table.sort(idx)
  cur = cur or ''
  local len, pos, at, out = #cur, 1, 1, {}
  for _, i in ipairs(idx) do
    local run = pos
    while at < i and pos <= len do -- skip the unchanged numbers before i
      local c = string.find(cur, ',', pos, true)
      pos = c and c + 1 or len + 2
      at = at + 1
    end
    if pos > run then out[#out + 1] = cur:sub(run, pos - 2) end
    if at < i then out[#out + 1] = string.rep('0,', i - at - 1) .. '0'; at = i end
    local old = 0
    if pos <= len then
      local c = string.find(cur, ',', pos, true) or (len + 1)
      old = tonumber(cur:sub(pos, c - 1)) or 0
      pos = c + 1
    end
    out[#out + 1] = string.format('%d', i == ST.qwait_max and math.max(old, d[i]) or old + d[i])
    at = i + 1
  end
  if pos <= len then out[#out + 1] = cur:sub(pos) end
  return table.concat(out, ',')
end

-- The code counts text of table m (code -> n), codes sorted:
-- "CODE<US>n<RS>CODE<US>n" (ASCII unit and record separators), one field
-- per tuple however many codes, so a key stays small to read.
local function st_codes_text(m)
  local order = {}
  for c in pairs(m) do order[#order + 1] = c end
  table.sort(order)
  local parts = {}
  for _, c in ipairs(order) do parts[#parts + 1] = c .. '\31' .. string.format('%d', m[c]) end
  return table.concat(parts, '\30')
end

-- An hour written before totals were kept (an upgrade): its totals summed
-- from the tuples of its hour key hk into tk's fields hf and "c"..hf; the
-- vector returned (nil: no vectors).
local function st_total_init(hk, tk, hf)
  local h = redis.call('HGETALL', hk)
  local sum, codes, any = {}, {}, false
  for i = 1, #h, 2 do
    local kind = h[i]:sub(1, 2)
    if kind == 'v\t' then
      any = true
      local j = 0
      for n in string.gmatch(h[i + 1], '[^,]+') do
        j = j + 1
        local x = tonumber(n) or 0
        sum[j] = j == ST.qwait_max and math.max(sum[j] or 0, x) or (sum[j] or 0) + x
      end
    elseif kind == 'c\t' then
      for code, n in string.gmatch(h[i + 1], '([^\31\30]+)\31(%d+)') do
        codes[code] = (codes[code] or 0) + tonumber(n)
      end
    end
  end
  if next(codes) then redis.call('HSET', tk, 'c' .. hf, st_codes_text(codes)) end
  if not any then return nil end
  local parts = {}
  for j = 1, #sum do parts[j] = string.format('%d', sum[j] or 0) end
  return table.concat(parts, ',')
end

-- Number-to-text in Redis's Lua costs ~0.5-0.9 us each (string.format,
-- tostring): st_fact keeps the common parts, constant once made (from call
-- to call too): "<i>:1" per index, and the last hour's text.
local st_one, st_hour_n, st_hour_s = {}, nil, nil
-- The fact of deltas d ({[ST.x] = n}) for the tuple tup = {channel, agent,
-- group, codes} at ms; kind 'v', or 'c' for a close (its codes counted).
local function st_fact(kind, ms, tup, d)
  local ds
  for i, x in pairs(d) do
    local p
    if x == 1 then
      p = st_one[i]
      if not p then p = string.format('%d:1', i); st_one[i] = p end
    else
      p = string.format('%d:%d', i, x)
    end
    ds = ds and (ds .. ',' .. p) or p
  end
  local h = math.floor(ms / 3600000)
  if h ~= st_hour_n then st_hour_n, st_hour_s = h, string.format('%d', h) end
  return table.concat({kind, ds or '', '\t', st_hour_s, '\t', tup[1], '\t', tup[2], '\t', tup[3],
    '\t', tup[4] or ''})
end

-- Adds deltas d ({[ST.x] = n}) to the tuple's vectors of the hour and the
-- day of ms, and to the hour's totals (tup = {channel, agent, group, codes};
-- a closed session's codes also add them to each code's keys): a fact for
-- st_apply.
local function st_add(P, ms, tup, d)
  st_emit(P, st_fact('v', ms, tup, d))
end

-- The response time of an agent's reply (ms) as deltas.
local function st_resp(d, ms)
  d[ST.resp_sum], d[ST.resp_n] = ms, 1
  local b = #ST_EDGES + 1
  for i, e in ipairs(ST_EDGES) do
    if ms <= e * 1000 then b = i; break end
  end
  d[ST.hist + b - 1] = 1
end

-- A new episode of a session (reopened, or created by an agent): what its
-- figures measure from. pro: an agent started it (proactive; st_pro '1'). A
-- session a customer's message creates has its first episode implied, its
-- start created_at's (st_first).
local function st_episode(P, sid, s, now_ms, pro)
  st_first_write(k(P, 'ses', sid)) -- st_nin stays
  st_first(s)
  redis.call('HDEL', k(P, 'ses', sid), 'st_fi', 'st_fr', 'st_ar', 'st_w', 'st_pro')
  redis.call('HSET', k(P, 'ses', sid), 'st_t0', string.format('%d', now_ms))
  if pro then redis.call('HSET', k(P, 'ses', sid), 'st_pro', '1') end
  s.st_fi, s.st_fr, s.st_ar, s.st_w, s.st_t0 = nil, nil, nil, nil, string.format('%d', now_ms)
  s.st_pro = pro and '1' or nil
end

-- A customer's message (ingest): s current after it; new: it created the
-- session (counted in the same vector update; its fields are implied:
-- st_first). upd: the session's HSET arguments that the caller writes after
-- this, to which the session's statistics fields are added (one write).
local function st_in(P, sid, s, now_ms, new, upd)
  st_first(s)
  if not new then
    if not s.st_fi or not s.st_w then
      local ms = string.format('%d', now_ms)
      if not s.st_fi then upd[#upd + 1] = 'st_fi'; upd[#upd + 1] = ms; s.st_fi = ms end
      if not s.st_w then upd[#upd + 1] = 'st_w'; upd[#upd + 1] = ms; s.st_w = ms end
    end
    -- s.st_nin: as read with s (an implied '1' filled in by st_first)
    s.st_nin = tostring((tonumber(s.st_nin) or 0) + 1)
    upd[#upd + 1] = 'st_nin'; upd[#upd + 1] = s.st_nin
  end
  st_add(P, now_ms, st_tuple(s), new and {[ST.msg_in] = 1, [ST.new] = 1} or {[ST.msg_in] = 1})
end

-- An agent's message to the customer (never an automatic text).
local function st_out(P, sid, s, now_ms)
  st_first(s) -- written by msgs_add, which came first
  local skey = k(P, 'ses', sid)
  local d = {[ST.msg_out] = 1}
  local w = tonumber(s.st_w or '')
  if w then
    st_resp(d, math.max(0, now_ms - w))
    redis.call('HDEL', skey, 'st_w')
    s.st_w = nil
  end
  if s.st_fi and not s.st_fr then
    s.st_fr = string.format('%d', now_ms)
    redis.call('HSET', skey, 'st_fr', s.st_fr)
  end
  if not s.st_ar then redis.call('HSET', skey, 'st_ar', '1'); s.st_ar = '1' end
  redis.call('HINCRBY', skey, 'st_nout', 1)
  st_add(P, now_ms, st_tuple(s), d)
end

-- A close: c is the session's hash after it (success codes set, agent still
-- named). Counts the chat and its durations, and its codes (one "c" fact).
local function st_close(P, c, now_ms)
  st_first(c)
  local tup = st_tuple(c)
  local d = {[ST.chats] = 1}
  local pro = c.st_pro == '1' or (not c.st_t0 and c.origin == 'agent')
  if pro then d[ST.proactive] = 1 else d[ST.reactive] = 1 end
  if not c.st_ar then d[ST.missed] = 1 end
  local t0 = tonumber(c.st_t0 or '') or ms_of_iso(c.reopened_at or c.created_at)
  if t0 then d[ST.dur_sum], d[ST.dur_n] = math.max(0, now_ms - t0), 1 end
  local fi, fr = tonumber(c.st_fi or ''), tonumber(c.st_fr or '')
  if fi and fr then d[ST.fr_sum], d[ST.fr_n] = math.max(0, fr - fi), 1 end
  if fi then d[ST.res_sum], d[ST.res_n] = math.max(0, now_ms - fi), 1 end
  st_emit(P, st_fact(tup[4] ~= '' and 'c' or 'v', now_ms, tup, d))
end

-- A customer satisfaction survey's score for session s: the hook
-- csat_store calls (csat.submitted). On a 2-point scale 1 counts as 1 and 2
-- as 5, so averages and distributions share the 1-5 scale.
local function st_csat(P, s, score, scale, now_ms)
  local sc = math.floor(tonumber(score) or 0)
  if tonumber(scale) == 2 then sc = sc == 2 and 5 or (sc == 1 and 1 or 0) end
  if sc < 1 or sc > 5 then return end
  st_add(P, now_ms, st_tuple(s), {[ST.csat_n] = 1, [ST.csat_sum] = sc, [ST.csat1 + sc - 1] = 1})
end

-- An agent's time in state (ST index idx) from a to b (ms), at most the
-- last 400 days: a fact that st_apply splits over the UTC hours.
local ST_PRES_MAX_MS = 400 * 86400000
local function st_span(P, aid, idx, a, b)
  local t = math.max(a, b - ST_PRES_MAX_MS)
  if t < b then st_emit(P, string.format('p%d\t%d\t%d\t', idx, t, b) .. aid) end
end

-- An agent's time in state from since to now (ms), split over UTC hours
-- (at most the last 400 days), and the interval logged for Agent Activity.
local function st_presence(P, aid, state, since, now_ms)
  if not since or now_ms <= since then return end
  local idx = ST[state]
  if not idx then return end
  local t = math.max(since, now_ms - ST_PRES_MAX_MS)
  -- logged in pieces of at most a day, so a period's intervals are found
  -- from a day before its start
  local a = t
  while a < now_ms do
    local b = math.min(now_ms, a + 86400000)
    redis.call('ZADD', P .. ':st:pres', a, table.concat({aid, state, string.format('%d', a),
      string.format('%d', b)}, '|'))
    a = b
  end
  st_span(P, aid, idx, t, now_ms)
end

-- The queue over time (#20.1; docs/statistics.md). A session waits from the
-- moment it enters its policy's queue (P:queue:<policy>) until it leaves it
-- (assigned, taken, closed, or dropped by a drain as stale); entering again
-- while waiting (a transfer to a group) ends the wait so far and starts a new
-- one, as the queue's own position restarts.
--   P:st:q:<day>  hash (the UTC day, ms / 86400000), one per day so that a
--       query reads a day in one call:
--     "<hour>\t<channel>\t<group>" -> "<wait ms>,<longest ms>": the time the
--         waits of sessions of that channel waiting for that group ('' any)
--         overlapped the UTC hour (ms / 3600000), and the longest of them by
--         the hour's end or their own
--     "<hour>\tm" -> the most sessions waiting at once in the hour (all queues)
--   P:st:qw  zset  the sessions waiting now, score = since (ms), any policy
--   P:st:qh  the UTC hour of the last change of P:st:qw's size
-- A wait is counted when it ends, split over the hours it overlapped (as
-- presence time is); og_stats.c adds the waits still going on up to now.
-- P:st:qw and P:st:qh are the state the next change reads, so they are
-- written at once; what goes into P:st:q:<day> is a fact (st_apply).
local function st_q_key(P, hour)
  return P .. ':st:q:' .. string.format('%d', math.floor(hour / 24))
end

-- A wait from a to b (ms) of a session of channel ch waiting for group grp.
local function st_q_wait(P, ch, grp, a, b)
  if a < b then st_emit(P, string.format('w%d\t%d\t', a, b) .. ch .. '\t' .. grp) end
end

-- The number waiting goes from n to n2 now: every hour since the last change
-- began with n waiting (at most the last 400 days), this one reaches n2.
local function st_q_level(P, n, n2, now_ms)
  local hour = math.floor(now_ms / 3600000)
  local last = tonumber(redis.call('GET', P .. ':st:qh') or '')
  if n > 0 and last then
    local x = math.max(last + 1, hour - 9600)
    if x <= hour then st_emit(P, string.format('m%d\t%d\t%d', x, hour, n)) end
  end
  if n2 > n then st_emit(P, string.format('m%d\t%d\t%d', hour, hour, n2)) end
  if not last or hour > last then redis.call('SET', P .. ':st:qh', hour) end
end

-- A session enters the queue qk (ZADD) at now_ms; s: its hash before the
-- change (channel, queue_group).
local function st_q_enter(P, qk, sid, s, now_ms)
  now_ms = tonumber(now_ms)
  local qw = P .. ':st:qw'
  local a = tonumber(redis.call('ZSCORE', qw, sid) or '')
  if a then st_q_wait(P, s.channel or '', s.queue_group or '', a, now_ms) end
  local n = redis.call('ZCARD', qw)
  redis.call('ZADD', qw, now_ms, sid)
  redis.call('ZADD', qk, now_ms, sid)
  st_q_level(P, n, a and n or n + 1, now_ms)
end

-- A session leaves the queue qk (ZREM) at now_ms; s: its hash (channel,
-- queue_group).
local function st_q_leave(P, qk, sid, s, now_ms)
  redis.call('ZREM', qk, sid)
  local qw = P .. ':st:qw'
  local a = tonumber(redis.call('ZSCORE', qw, sid) or '')
  if not a then return end
  local n = redis.call('ZCARD', qw)
  redis.call('ZREM', qw, sid)
  st_q_wait(P, s.channel or '', s.queue_group or '', a, now_ms)
  st_q_level(P, n, n - 1, now_ms)
end

-- Applies facts (a list of st_emit's strings; see "The write path" above):
-- sums them per key and field (the maximum for qwait_max and a queue's
-- "<hour>\tm", as one by one), reads each field once and writes it once.
-- The hour totals are written first: an hour without totals (written by a
-- version before them) gets them summed from its tuples as they were before
-- these facts (st_total_init), as the first inline fact did.
local function st_apply(P, facts)
  local G = {} -- "<hour>\t<ch>\t<agent>\t<group>\t<codes>" -> {deltas, closes}
  local Q = {} -- P:st:q:<day> -> field -> {ms, longest} or n (the most waiting)
  local function group(rest)
    local g = G[rest]
    if not g then g = {{}, 0}; G[rest] = g end
    return g
  end
  local function qfield(hr, f)
    local key = st_q_key(P, hr)
    local m = Q[key]
    if not m then m = {}; Q[key] = m end
    return m, string.format('%d', hr) .. '\t' .. f
  end
  local qmax = ST.qwait_max
  for _, f in ipairs(facts) do
    local kind = f:sub(1, 1)
    if kind == 'v' or kind == 'c' then
      local ds, rest = f:match('^.([^\t]*)\t(.*)$')
      if rest then
        local g = group(rest)
        local acc = g[1]
        for i, x in ds:gmatch('(%d+):(%-?%d+)') do
          i, x = tonumber(i), tonumber(x)
          local o = acc[i]
          if i == qmax then acc[i] = (o and o > x) and o or x else acc[i] = (o or 0) + x end
        end
        if kind == 'c' then g[2] = g[2] + 1 end
      end
    elseif kind == 'p' then
      local i, a, b, aid = f:match('^p(%d+)\t(%d+)\t(%d+)\t(.*)$')
      if aid then
        i, a, b = tonumber(i), tonumber(a), tonumber(b)
        while a < b do
          local hr = math.floor(a / 3600000)
          local e = math.min(b, (hr + 1) * 3600000)
          local acc = group(string.format('%d', hr) .. '\t\t' .. aid .. '\t\t')[1]
          acc[i] = (acc[i] or 0) + e - a
          a = e
        end
      end
    elseif kind == 'w' then
      local a, b, ch, grp = f:match('^w(%d+)\t(%d+)\t([^\t]*)\t(.*)$')
      if grp then
        a, b = tonumber(a), tonumber(b)
        local t = math.max(a, b - ST_PRES_MAX_MS)
        while t < b do
          local hr = math.floor(t / 3600000)
          local e = math.min(b, (hr + 1) * 3600000)
          local m, qf = qfield(hr, ch .. '\t' .. grp)
          local x = m[qf]
          if not x then x = {0, 0}; m[qf] = x end
          x[1], x[2] = x[1] + e - t, math.max(x[2], e - a)
          t = e
        end
      end
    elseif kind == 'm' then
      local h0, h1, n = f:match('^m(%d+)\t(%d+)\t(%d+)$')
      if n then
        n = tonumber(n)
        for hr = tonumber(h0), tonumber(h1) do
          local m, qf = qfield(hr, 'm')
          if n > (m[qf] or 0) then m[qf] = n end
        end
      end
    end
  end
  -- each tuple's sums into the keys they go to: T the day's hour totals
  -- (field "<h>" and "c<h>"), W the hour and day keys ("v\t.." and "c\t..");
  -- a vector field holds deltas (number keys), a codes field code -> n
  local T, W, init, seen = {}, {}, {}, {}
  local function vec(tab, key, f, d)
    local m = tab[key]
    if not m then m = {}; tab[key] = m end
    local acc = m[f]
    if not acc then m[f] = d; return end -- d is not changed afterwards: shared
    local c = {}
    for i, x in pairs(acc) do c[i] = x end
    for i, x in pairs(d) do
      local o = c[i]
      if i == qmax then c[i] = (o and o > x) and o or x else c[i] = (o or 0) + x end
    end
    m[f] = c
  end
  local function cnt(tab, key, f, code, n)
    local m = tab[key]
    if not m then m = {}; tab[key] = m end
    local acc = m[f]
    if not acc then acc = {}; m[f] = acc end
    acc[code] = (acc[code] or 0) + n
  end
  for rest, g in pairs(G) do
    local hr, ch, ag, gr, codes = rest:match('^(%d+)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$')
    if hr then
      local d, closes = g[1], g[2]
      local sd = string.format('%d', math.floor(tonumber(hr) / 24))
      local hf = string.format('%d', tonumber(hr) % 24)
      local tk, hk, dk = P .. ':st:t:' .. sd, P .. ':st:h:' .. hr, P .. ':st:d:' .. sd
      local vf, cf = 'v\t' .. ch .. '\t' .. ag .. '\t' .. gr, 'c\t' .. ch .. '\t' .. ag .. '\t' .. gr
      seen[hk] = sd
      vec(T, tk, hf, d)
      init[tk] = init[tk] or {}
      init[tk][hf] = hk
      vec(W, hk, vf, d)
      vec(W, dk, vf, d)
      for code in codes:gmatch('[^,]+') do
        local sfx = ':' .. code
        vec(T, tk .. sfx, hf, d)
        init[tk .. sfx] = init[tk .. sfx] or {}
        init[tk .. sfx][hf] = hk .. sfx
        vec(W, hk .. sfx, vf, d)
        vec(W, dk .. sfx, vf, d)
        if closes > 0 then
          cnt(T, tk, 'c' .. hf, code, closes)
          cnt(T, tk .. sfx, 'c' .. hf, code, closes)
          cnt(W, hk, cf, code, closes)
          cnt(W, dk, cf, code, closes)
          cnt(W, hk .. sfx, cf, code, closes)
          cnt(W, dk .. sfx, cf, code, closes)
        end
      end
    end
  end
  -- writes each key's fields: reads them (HMGET), adds, writes (HSET), in
  -- chunks (unpack's limit); returns the fields that were new
  local function write(key, m, fields, first)
    local new = {}
    for c0 = 1, #fields, 500 do
      local part = {unpack(fields, c0, math.min(#fields, c0 + 499))}
      local cur = redis.call('HMGET', key, unpack(part))
      local out = {}
      for j, f in ipairs(part) do
        local acc, old = m[f], cur[j] or nil
        if first and not old then old = first(f) end
        if not old then new[#new + 1] = f end
        out[#out + 1] = f
        if f:sub(1, 1) == 'c' then
          local cm = {}
          if old then
            for code, n in string.gmatch(old, '([^\31\30]+)\31(%d+)') do cm[code] = tonumber(n) end
          end
          for code, n in pairs(acc) do cm[code] = (cm[code] or 0) + n end
          out[#out + 1] = st_codes_text(cm)
        else
          out[#out + 1] = st_vec_apply(old, acc)
        end
      end
      redis.call('HSET', key, unpack(out))
    end
    return new
  end
  -- the totals: P:st:tv is the UTC hour (Redis's clock) from which every
  -- hour has them; an hour before it may have been written without them
  -- (st_total_init, before its "c<h>" is read)
  local tv = false
  for tk, m in pairs(T) do
    local vfs, cfs = {}, {}
    for f in pairs(m) do
      if f:sub(1, 1) == 'c' then cfs[#cfs + 1] = f else vfs[#vfs + 1] = f end
    end
    write(tk, m, vfs, function(hf)
      if not tv then
        redis.call('SET', P .. ':st:tv', math.floor(tonumber(redis.call('TIME')[1]) / 3600), 'NX')
        tv = true
      end
      local hk = init[tk][hf]
      if redis.call('EXISTS', hk) == 1 then return st_total_init(hk, tk, hf) end
      return nil
    end)
    if #cfs > 0 then write(tk, m, cfs) end
  end
  -- the hour and day keys; a field's first appearance in an hour key goes
  -- into its UTC day's tuple set P:st:u:<day>, so a query with a channel,
  -- agent or group filter reads only the fields of its tuples that exist
  -- that day (HMGET) instead of every key whole. P:st:uv is the UTC hour
  -- (Redis's clock, the next one: an older instance may still write this
  -- one) from which every hour's tuples are in their day's set; an hour
  -- before it is read whole.
  local uv = false
  for key, m in pairs(W) do
    local fs = {}
    for f in pairs(m) do fs[#fs + 1] = f end
    local new = write(key, m, fs)
    local day = seen[key]
    if day and #new > 0 then
      for c0 = 1, #new, 500 do
        redis.call('SADD', P .. ':st:u:' .. day, unpack(new, c0, math.min(#new, c0 + 499)))
      end
      if not uv then
        redis.call('SET', P .. ':st:uv', math.floor(tonumber(redis.call('TIME')[1]) / 3600) + 1,
          'NX')
        uv = true
      end
    end
  end
  -- the queue over time
  for key, m in pairs(Q) do
    local fs = {}
    for f in pairs(m) do fs[#fs + 1] = f end
    for c0 = 1, #fs, 500 do
      local part = {unpack(fs, c0, math.min(#fs, c0 + 499))}
      local cur = redis.call('HMGET', key, unpack(part))
      local out = {}
      for j, f in ipairs(part) do
        local x, old = m[f], cur[j] or nil
        if type(x) == 'number' then
          if x > (tonumber(old or '') or 0) then
            out[#out + 1] = f
            out[#out + 1] = x
          end
        else
          local ms, long = 0, 0
          if old then
            local a, b = old:match('^(%d+),(%d+)$')
            ms, long = tonumber(a) or 0, tonumber(b) or 0
          end
          out[#out + 1] = f
          out[#out + 1] = string.format('%d,%d', ms + x[1], math.max(long, x[2]))
        end
      end
      if #out > 0 then redis.call('HSET', key, unpack(out)) end
    end
  end
end

-- Goal counters for statistics: per UTC day, per channel and per agent (the
-- session's agent then, else the one whose reply started the measurement).
-- what: closed (a close of a session with a goal), achieved, missed.
local function goal_count(P, what, s, now_iso)
  local key = k(P, 'stats', 'goals', now_iso:sub(1, 10))
  redis.call('HINCRBY', key, what .. ':ch:' .. s.channel, 1)
  local aid = (s.agent_id and s.agent_id ~= '') and s.agent_id or s.g_agent
  if aid and aid ~= '' then redis.call('HINCRBY', key, what .. ':agent:' .. aid, 1) end
  -- and per UTC hour for the statistics' time zones (missed is not reported)
  if what ~= 'missed' then
    local tup = st_tuple(s)
    if tup[2] == '' then tup[2] = s.g_agent or '' end
    st_add(P, ms_of_iso(now_iso), tup,
      {[what == 'closed' and ST.goals_closed or ST.goals_achieved] = 1})
  end
end

-- An agent's message to the customer: starts a measurement when none holds
-- (the first reply, or the first after a reopen that measures again),
-- unless the agent started the conversation and the customer has not
-- answered yet. The channel's goal now is the snapshot; day_ms is a day
-- (shorter under OMNIGATE_TEST_DAY_S). System texts never come here.
local function goal_start(P, sid, s, now_ms, now_iso, day_ms, actor)
  if goal_measured(s) or s.g_hold == '1' then return end
  local aid = actor ~= 'admin' and actor or ''
  local skey = k(P, 'ses', sid)
  local g = goal_of(P, s.channel)
  redis.call('HDEL', skey, 'g_new', 'g_ev', 'g_days', 'g_start', 'g_start_ms', 'g_end_ms',
    'g_at', 'g_agent')
  s.g_new, s.g_ev, s.g_days, s.g_start, s.g_start_ms, s.g_end_ms, s.g_at = nil
  if not g then
    redis.call('HSET', skey, 'g_st', 'none')
    s.g_st = 'none'
    return
  end
  local end_ms = tonumber(now_ms) + g.days * day_ms
  s.g_st, s.g_ev, s.g_days, s.g_start = 'in_process', g.ev, tostring(g.days), now_iso
  s.g_start_ms, s.g_end_ms = string.format('%d', tonumber(now_ms)), string.format('%d', end_ms)
  s.g_agent = aid
  redis.call('HSET', skey, 'g_st', s.g_st, 'g_ev', s.g_ev, 'g_days', s.g_days, 'g_start',
    now_iso, 'g_start_ms', s.g_start_ms, 'g_end_ms', s.g_end_ms, 'g_agent', aid)
  redis.call('ZADD', k(P, 'timers', 'goal'), end_ms, sid)
  redis.call('SADD', k(P, 'con', s.contact_id, 'goals'), sid)
  tl_add(P, sid, now_iso, 'goal', tl_by(P, actor), table.concat({'"status":"in_process","event":',
    js(g.ev), ',"window_days":', s.g_days}))
end

-- 1 when the goal event name achieves the session's open window now.
local function goal_open(s, now_ms, name)
  return s.g_st == 'in_process' and s.g_new ~= '1' and s.g_ev == name and
    tonumber(now_ms) <= (tonumber(s.g_end_ms or '') or 0)
end

-- The measurement ends: achieved (by the goal event, or a success code at
-- close) or missed (the window passed). Emits goal.<status>; s is the
-- session's hash table, kept current; by: the timeline's who; via:
-- "event" | "success_code" | nil.
local function goal_end(P, sid, s, status, now_iso, eid, by, via)
  local skey = k(P, 'ses', sid)
  if status == 'achieved' then
    redis.call('HSET', skey, 'g_st', status, 'g_at', now_iso)
    s.g_at = now_iso
  else
    redis.call('HSET', skey, 'g_st', status)
  end
  s.g_st = status
  redis.call('ZREM', k(P, 'timers', 'goal'), sid)
  redis.call('SREM', k(P, 'con', s.contact_id or '', 'goals'), sid)
  local gj = goal_json(P, s)
  emit(P, eid, 'goal.' .. status, sid, now_iso, table.concat({'{"session":',
    session_render(P, s), ',"goal":', gj, ',"agent_id":', q(s.g_agent), ',"via":', q(via),
    '}'}))
  tl_add(P, sid, now_iso, 'goal', by, table.concat({'"status":"', status, '","event":',
    js(s.g_ev), ',"window_days":', s.g_days, ',"via":', q(via)}))
  goal_count(P, status, s, now_iso)
end

-- A closed session is reopened: an achieved goal stays achieved while the
-- channel's goal is the one it was measured against; any other
-- measurement (not achieved, or the goal changed since) starts again from
-- the agent's next reply, against the channel's goal then. Called before
-- the reopen's events are rendered (so they show the goal as it is now);
-- returns the fields of the timeline's "goal" entry, for the caller to
-- write after its "reopened" one, or nil when the goal did not change.
local function goal_reopen(P, sid, s)
  if not goal_measured(s) then return nil end
  local g = goal_of(P, s.channel)
  if s.g_st == 'achieved' and g and g.ev == s.g_ev and tostring(g.days) == s.g_days then
    return nil
  end
  local was = s.g_st
  redis.call('HSET', k(P, 'ses', sid), 'g_new', '1')
  s.g_new = '1'
  redis.call('ZREM', k(P, 'timers', 'goal'), sid)
  redis.call('SREM', k(P, 'con', s.contact_id or '', 'goals'), sid)
  if was == 'none' and not g then return nil end
  return table.concat({'"status":"', goal_status(P, s), '","event":', js(g and g.ev),
    ',"window_days":', g and tostring(g.days) or 'null', ',"reason":"reopened","previous":"',
    was, '"'})
end


-- Satisfaction survey (og_csat.h). A session is rated once: the first
-- answer is kept in its hash (field csat, the JSON the session shows), later
-- ones are refused. Fields of the survey sent as a message (messengers):
-- csat_off '1' once it was offered (never twice per session), csat_ask '1'
-- while the customer's next message may be the answer (texts.lua sets it
-- when the survey message is stored; ingest clears it at the next message).
-- Stores the rating of session s (read whole); by: the contact answering,
-- or '' (a signed link: the session's contact). Returns the csat JSON, or
-- nil when it was rated already.
local function csat_store(P, sid, s, score, scale, comment, now_ms, now_iso, eid, by)
  if s.csat and s.csat ~= '' then return nil end
  local skey = k(P, 'ses', sid)
  local cj = table.concat({'{"score":', score, ',"scale":', scale, ',"comment":', comment,
    ',"at":"', now_iso, '"}'})
  redis.call('HSET', skey, 'csat', cj)
  redis.call('HDEL', skey, 'csat_ask')
  s.csat, s.csat_ask = cj, nil
  local who_id = by ~= '' and by or (s.contact_id or '')
  local who = tl_contact(who_id, redis.call('HGET', k(P, 'con', who_id), 'name'))
  st_csat(P, s, score, scale, now_ms) -- statistics (og_stats.h)
  emit(P, eid, 'csat.submitted', sid, now_iso,
    '{"session":' .. session_render(P, s) .. ',"csat":' .. cj .. '}')
  tl_add(P, sid, now_iso, 'csat', who, '"score":' .. score .. ',"scale":' .. scale ..
    ',"comment":' .. comment)
  return cj
end
-- Offers the survey as a message (its channel's texts have "csat", the
-- survey's moment: 'close' or 'silence') unless the session was rated or
-- offered it already. when: the moment that came ('close' | 'silence').
local function csat_offer(P, sid, s, when, now_ms)
  if texts_of(P, s.channel).csat ~= when then return end
  if (s.csat or '') ~= '' or s.csat_off == '1' then return end
  redis.call('HSET', k(P, 'ses', sid), 'csat_off', '1')
  s.csat_off = '1'
  auto_text(P, s.channel, sid, 'csat', now_ms)
end
