-- ingest.lua: store inbound customer messages, each one atomically.
-- Its common case (a further message in a new, active or awaiting session,
-- the contact's profile unchanged) is also written in C (og_ingest.c, the
-- batch's front): a change here is a change there, and og-int-ingest-c
-- fails until both write and emit the same.
-- Per message: de-duplicates by (channel, dedup key) and by provider message
-- id; creates or updates the contact; finds or creates the thread's session
-- (reopening a closed one with its history); appends the message; appends
-- the events; queues a new or reopened session for routing.
-- Called through og_batch (group commit): ARGV[1] is the key prefix, then
-- NF arguments per message (see og_core_ingest()). mtail is the message
-- JSON's middle part, rendered by C: "kind", "text", "attachments",
-- "location", "provider_message_id", "reply_to_provider_id", "created_at",
-- and for a message with sensitive words "flags" and "sensitive_terms"; the
-- last argument is then those terms (a JSON array, matched by C before the
-- call: og_sensitive.h), '' otherwise; the next is the survey answer C
-- recognised in the text ("score/scale", og_csat.h), '' for none; the next
-- is the raw payload's lifetime in seconds (store_raw; '' = as long as the
-- message), the raw payload itself being '' when it is not kept; the last
-- is mtail as the message's hash keeps it (coded by C: og_compact.h). When the
-- session's survey message waits for an answer (csat_ask) and it is one,
-- the message is stored in the history as usual but rates the session
-- instead of reopening or activating it: no routing, no texts, no timers,
-- no statistics of a customer message; csat.submitted is emitted.
-- Returns one reply per message (og_script.h): {"ok", session_id, message_id,
-- created} with created '1' (new session), '2' (reopened), '0', or 'dup'
-- (already stored: session_id is '' and message_id the stored one), or
-- 'archived' (the thread's session is in the archive: nothing stored; C
-- restores it and calls again); or
-- {"err", "internal", why}.
local P = ARGV[1]
local NF = 32
-- A queued session gets the queue text (og_texts.h) when it still waits
-- this long after it was queued: the routing worker, woken by the ingest,
-- has then tried to place it.
local QUEUE_TEXT_GRACE_MS = 1000

local function ingest(a)
  local ch, connector, routing, dedup = a[1], a[2], a[3], a[4]
  local now_ms, now_iso, ttl = a[5], a[6], tonumber(a[7])
  local ext, thread = a[8], a[9]
  local p_name, p_username, p_avatar, p_phone, p_email = a[10], a[11], a[12], a[13], a[14]
  local new_cid, new_sid, mid = a[15], a[16], a[17]
  local eids = {a[18], a[19], a[20], a[21]}
  local mtail, pmid, reply_pmid, reply_token, raw = a[22], a[23], a[24], a[25], a[26]
  local wms = tonumber(a[27]) or 0
  local nrt = a[28] == '1' -- OG_CAP_NON_REALTIME: counts against max_nrt_chats
  local terms = a[29]
  local answer = a[30]
  local raw_ttl = a[31]
  local mpack = a[32]

  -- De-duplication. The provider id index doubles as the dedup record when
  -- the platform's delivery key is the message id (WhatsApp, Messenger, the
  -- example connector), saving a key per message; otherwise the delivery key
  -- gets its own record that expires after the dedup window.
  local dk = nil
  if dedup ~= pmid then
    dk = k(P, 'dedup', ch, dedup)
    local prev = redis.call('GET', dk)
    if prev then return {'ok', '', prev, 'dup'} end
  end
  local pmk = pmid ~= '' and pmid_hkey(P, ch, pmid) -- read here, written below
  if pmk then
    -- A platform may also redeliver one message under a new delivery key.
    local known = pmid_get(P, ch, pmid, pmk)
    if known then
      if dk then redis.call('SET', dk, known, 'EX', ttl) end
      return {'ok', '', known, 'dup'}
    end
  end

  local ei = 0
  local function next_eid() ei = ei + 1; return eids[ei] end

  -- the thread's session, and through it (for a one-to-one thread) the contact
  local thk = thread_hkey(P, ch, thread) -- read here, written for a new session
  local sid = thread_get(P, ch, thread, thk)
  local st, cid, s
  if sid then
    -- read whole: the events render it (from this table, kept current below)
    s = hgetall(k(P, 'ses', sid))
    if not s.id then
      -- in the archive (archive.lua): C brings it back, then calls again
      if redis.call('HEXISTS', k(P, 'arch', 'loc'), sid) == 1 then
        return {'ok', sid, '', 'archived'}
      end
      sid, s = nil, nil
    end
  end
  if sid then
    st, cid = s.status, s.contact_id
    if thread ~= ext then cid = nil end -- a group thread: the sender is its own contact
  end

  -- contact
  if not cid then cid = contact_of(P, ch, ext, not sid and thread == ext) end
  local contact_created = false
  local sender_name = p_name
  local cj -- the sender's contact JSON
  if not cid then
    cid = new_cid
    -- one that begins in its own thread is found through it (contact_of)
    if thread ~= ext then redis.call('SET', k(P, 'contact', ch, ext), cid) end
    -- the profile's empty fields are not stored (absent reads as '': null)
    local f = {'id', cid, 'channel', ch, 'external_id', ext, 'created_at', now_iso}
    local prof = {'name', p_name, 'username', p_username, 'avatar_url', p_avatar, 'phone', p_phone,
      'email', p_email}
    for i = 1, #prof, 2 do
      if prof[i + 1] ~= '' then f[#f + 1] = prof[i]; f[#f + 1] = prof[i + 1] end
    end
    redis.call('HSET', k(P, 'con', cid), unpack(f))
    cj = contact_fmt({id = cid, channel = ch, external_id = ext, name = p_name,
      username = p_username, avatar_url = p_avatar, phone = p_phone, email = p_email,
      created_at = now_iso})
    contact_created = true
  else
    -- The platform's profile is the freshest; fields the business set through
    -- the API (listed in 'locked') are not overwritten. Writes only on change.
    local ckey = k(P, 'con', cid)
    -- CON_FIELDS (name .. email are 4 .. 8), then locked: the JSON is
    -- rendered from these (contact_fmt_list)
    local cur = redis.call('HMGET', ckey, 'id', 'channel', 'external_id', 'name', 'username',
      'avatar_url', 'phone', 'email', 'followups_opt_out', 'created_at', 'locked')
    local new = {p_name, p_username, p_avatar, p_phone, p_email}
    local names = {'name', 'username', 'avatar_url', 'phone', 'email'}
    local locked = cur[11] or ''
    local upd = {}
    sender_name = cur[4] or ''
    for i = 1, 5 do
      if new[i] ~= '' and new[i] ~= cur[i + 3] and not string.find(locked, names[i], 1, true) then
        upd[#upd + 1] = names[i]; upd[#upd + 1] = new[i]
        cur[i + 3] = new[i]
        if i == 1 then sender_name = new[i] end
      end
    end
    if #upd > 0 then
      redis.call('HSET', ckey, unpack(upd))
      redis.call('HDEL', ckey, 'j') -- an older contact's stored JSON, stale now
    end
    cj = cur[1] and contact_fmt_list(cur) or nil
  end

  -- The survey message's answer: the next message only, whatever it is.
  local rating = nil
  if s and s.csat_ask == '1' then
    redis.call('HDEL', k(P, 'ses', sid), 'csat_ask')
    s.csat_ask = nil
    if answer ~= '' and (s.csat or '') == '' and s.contact_id == cid then rating = answer end
  end

  -- session
  local created, reopened, activated = false, false, false
  local goal_tl -- the timeline's goal entry of a reopen (goal_reopen)
  local skey
  if not sid then
    sid = new_sid
    skey = k(P, 'ses', sid)
    thread_set(P, ch, thread, sid, thk)
    -- tl0: the timeline's "created" entry, implied (prelude.lua tl_add)
    -- updated_at and last_message_at stay unwritten while a customer's
    -- message is the last change (last_customer_ms), window_ms while it
    -- is 0 (session_render)
    local f = {'id', sid, 'channel', ch, 'connector', connector, 'status', 'new',
      'contact_id', cid, 'thread_id', thread, 'routing', routing, 'created_at', now_iso,
      'tl0', js(sender_name), 'm0', mid, -- m0: its one message (msgs_add)
      -- its first statistics episode is implied, its start (st_t0) too:
      -- created_at's (st_first)
      'last_customer_ms', now_ms}
    if wms > 0 then f[#f + 1] = 'window_ms'; f[#f + 1] = wms end
    if nrt then f[#f + 1] = 'nrt'; f[#f + 1] = '1' end
    if reply_token ~= '' then
      f[#f + 1] = 'reply_token'; f[#f + 1] = reply_token
      f[#f + 1] = 'reply_token_ms'; f[#f + 1] = now_ms
    end
    redis.call('HSET', skey, unpack(f))
    redis.call('ZADD', k(P, 'idx', 'all'), 0, sid)
    redis.call('ZADD', k(P, 'idx', 'st', 'new'), 0, sid)
    st_q_enter(P, k(P, 'queue', routing), sid, {channel = ch}, now_ms)
    created = true
  elseif rating then
    skey = k(P, 'ses', sid)
  else
    skey = k(P, 'ses', sid)
    if st == 'closed' or st == 'archived' then
      set_status(P, sid, st, 'new')
      redis.call('HDEL', skey, 'agent_id', 'closed_at', 'close_reason', 'first_reply_at')
      redis.call('HSET', skey, 'success_codes', '[]', 'reopened_at', now_iso, 'routing', routing)
      st_q_enter(P, k(P, 'queue', routing), sid, s, now_ms)
      goal_tl = goal_reopen(P, sid, s)
      reopened = true
    elseif st == 'awaiting' then
      set_status(P, sid, st, 'active')
      activated = true
    end
    -- The customer answered: no timeout prompt or auto-close (armed by the
    -- agent's reply), and a conversation an agent started is measured now.
    if s.idle then
      redis.call('ZREM', k(P, 'timers', 'idle'), sid)
      redis.call('ZREM', k(P, 'timers', 'autoclose'), sid)
      redis.call('HDEL', skey, 'idle')
      s.idle = nil
    end
    if s.g_hold then redis.call('HDEL', skey, 'g_hold'); s.g_hold = nil end
    -- the survey after silence (og_csat.h) waits for the conversation's end
    local cs = texts_of(P, ch).cs
    if cs then redis.call('ZADD', k(P, 'timers', 'csat'), 'XX', tonumber(now_ms) + cs, sid) end
  end
  -- Automatic texts: the greeting for a new session; the queue text once it
  -- has waited QUEUE_TEXT_GRACE_MS for an agent (routing had its chance).
  if created then auto_text(P, ch, sid, 'greeting', tonumber(now_ms)) end
  if created or reopened then
    auto_text(P, ch, sid, 'queue', tonumber(now_ms) + QUEUE_TEXT_GRACE_MS)
  end

  -- message
  local reply_to = ''
  if reply_pmid ~= '' then reply_to = pmid_get(P, ch, reply_pmid) or '' end
  local sname = js(sender_name)
  -- the message's JSON, without status and closing brace, as parts: the
  -- event is built from them in one piece (emit)
  local mparts = {'{"id":"', mid, '","session_id":"', sid, '","direction":"in",', mtail,
    ',"sender":{"type":"contact","id":"', cid, '","name":', sname, '}',
    ',"reply_to":', q(reply_to)}
  -- stored compactly (msg_pack; its status, delivered, is implied: no st);
  -- the events carry the JSON as rendered here
  redis.call('HSET', k(P, 'msg', mid), 'm', msg_pack(cid, sname, reply_to, mpack), 'sid', sid)
  -- the raw payload beside it, not in it: it expires on its own (store_raw),
  -- and the message's hash keeps one field less
  if raw ~= '' then
    if raw_ttl ~= '' then
      redis.call('SET', k(P, 'raw', mid), raw, 'EX', raw_ttl)
    else
      redis.call('SET', k(P, 'raw', mid), raw)
    end
  end
  if not created then msgs_add(P, sid, mid, s.m0 or false) end -- s: the whole hash
  if pmk then pmid_set(P, ch, pmid, mid, pmk) end
  if dk then redis.call('SET', dk, mid, 'EX', ttl) end
  -- The session's updates: written below together with its statistics
  -- fields (st_in), in one HSET; a reopened session's at once (it is read
  -- back below).
  local supd
  if not created then
    -- last_customer_ms implies updated_at and last_message_at (session_render)
    local f = {'last_customer_ms', now_ms}
    if wms > 0 or s.window_ms then f[#f + 1] = 'window_ms'; f[#f + 1] = wms end
    if reply_token ~= '' then
      f[#f + 1] = 'reply_token'; f[#f + 1] = reply_token
      f[#f + 1] = 'reply_token_ms'; f[#f + 1] = now_ms
    end
    if reopened then redis.call('HSET', skey, unpack(f)) else supd = f end
  end
  if created or reopened then
    s = hgetall(skey) -- rare: read it back rather than mirror every field
  else
    if activated then s.status = 'active' end
    s.last_customer_ms = now_ms
    if wms > 0 or s.window_ms then s.window_ms = tostring(wms) end
  end
  -- statistics (og_stats.h): a new episode, a new session, a customer message
  if reopened then st_episode(P, sid, s, tonumber(now_ms), false) end
  if not rating then
    -- created: counts the new session too
    local upd = supd or {}
    st_in(P, sid, s, tonumber(now_ms), created, upd)
    if not supd and #upd > 0 then redis.call('HSET', skey, unpack(upd)) end
  elseif created then
    st_add(P, tonumber(now_ms), {ch, '', '', ''}, {[ST.new] = 1})
  end
  if supd then redis.call('HSET', skey, unpack(supd)) end
  -- The platform's customer-service window restarts with every customer message.
  if wms > 0 then redis.call('ZADD', k(P, 'timers', 'window'), tonumber(now_ms) + wms, sid) end

  -- events, in the order a consumer should see them
  -- the session's contact is the sender's except in a group thread
  iso_seed(tonumber(now_ms), now_iso) -- last_customer_message_at
  local sj = session_render(P, s, s.contact_id == cid and cj or nil)
  if contact_created then
    emit(P, next_eid(), 'contact.created', sid, now_iso, {'{"contact":', cj, '}'})
  end
  if created then
    emit(P, next_eid(), 'session.created', sid, now_iso, {'{"session":', sj, '}'})
  elseif reopened then
    emit(P, next_eid(), 'session.reopened', sid, now_iso, {'{"session":', sj, '}'})
    tl_add(P, sid, now_iso, 'reopened', tl_contact(cid, sender_name))
    if goal_tl then tl_add(P, sid, now_iso, 'goal', tl_contact(cid, sender_name), goal_tl) end
  elseif activated then
    emit(P, next_eid(), 'session.status_changed', sid, now_iso,
      {'{"session":', sj, ',"from":"awaiting","to":"active"}'})
  end
  local ev = {'{"session":', sj, ',"message":'}
  for i = 1, #mparts do ev[3 + i] = mparts[i] end
  ev[#ev + 1] = ',"status":"delivered","error":null}}'
  emit(P, next_eid(), 'message.received', sid, now_iso, ev)
  if terms ~= '' then
    mparts[#mparts + 1] = ',"status":"delivered","error":null}'
    flag_message(P, next_eid(), sid, mid, now_iso, sj, table.concat(mparts), terms)
  end
  if rating then
    local score, scale = rating:match('^(%d)/(%d)$')
    if csat_store(P, sid, s, score, scale, 'null', tonumber(now_ms), now_iso, next_eid(), cid) then
      auto_text(P, ch, sid, 'csat_thanks', tonumber(now_ms))
    end
  end
  return {'ok', sid, mid, created and '1' or (reopened and '2' or '0')}
end

-- A message that fails (a bug, a full Redis) fails alone: pcall keeps the
-- batch's other messages, and its platform gets an error and retries.
-- The batch's statistics facts are appended together (st_flush).
local out = {}
ST_BATCH.on = true
for base = 2, #ARGV, NF do
  local ok, res = pcall(ingest, {unpack(ARGV, base, base + NF - 1)})
  if ok then
    out[#out + 1] = res
  else
    out[#out + 1] = {'err', 'internal', type(res) == 'table' and tostring(res.err) or tostring(res)}
  end
end
ST_BATCH.on = false
st_flush(P)
return out
