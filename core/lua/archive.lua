-- archive.lua: closed sessions leave Redis for the archive and come back
-- (core/og_archive.c, which owns the segment files). A session is archived
-- in three steps, so that a crash anywhere loses nothing and archives
-- nothing twice:
--   claim   picks due sessions, leases them to the caller for lease_ms and
--           returns each one's record (its keys and their values, and its
--           JSON as the API shows it, status "archived");
--   (C)     appends the records to a segment file and fsyncs it;
--   commit  per session, in one step: when it is unchanged since the claim
--           (fingerprint) and not archived already, deletes its keys and
--           index entries and writes the index entry (segment, offset,
--           length). A crash before commit leaves the session live: its
--           record in the segment is never referenced (superseded), and the
--           session is claimed again once the lease has run out.
-- restore writes a record's keys back (ingest, before a customer's message
-- reopens it; an agent acting on it); drop forgets archived sessions
-- (retention.delete_after_days, a contact's erasure).
--
-- Keys (besides prelude.lua's):
--   P:arch:on     string set while archiving is on (og_archive_step: "mode")
--   P:arch:due    zset  closed session -> closed ms (routing.lua's close_session, while
--                       on; "backfill" adds those closed before)
--   P:arch:backfill string where backfill is, or "done"
--   P:arch:lease  zset  session -> end of its claim (ms)
--   P:arch:loc    hash  archived session -> "<segment>\t<offset>\t<length>\t<contact id>
--                       \t<channel>\t<thread>"
--   P:arch:segs   hash  segment file -> newest closed ms among its records;
--                       "-" prefix: being deleted (og_archive.c unlinks it, then seg_gone)
--   P:arch:rewrite set  segments holding an erased contact's records (og_archive.c
--                       rewrites them without those, then deletes the old file)
--   P:arch:was    hash  session -> segments (space-separated) holding a superseded record
--                       of it (restored; changed or archived elsewhere before its commit):
--                       its contact's erasure queues them for rewriting too
--   P:arch:pend   hash  object segment ("s3:...") being put -> ms the PUT began: the
--                       commit (or seg_moved) that indexes it removes the entry; one
--                       left past an hour is a crashed step's orphan, which
--                       "orphans" hands over for deleting (a late commit then fails)
-- An archived session keeps its id in P:idx:all (the exports' order) and its
-- thread key (so that the thread's next message, and an erasure, find it);
-- the contact stays.
--
-- ARGV[1] = P, [2] = op:
--   "mode"    [3] '1' | '0' -> {'ok'} (see there)
--   "backfill" -> {'ok', 'done' | 'more'} (see there)
--   "claim"   [3] now ms, [4] cutoff ms (closed before), [5] max, [6] lease ms
--             -> {'ok', sid, record json, fingerprint, closed ms, ...}
--   "commit"  [3] now ms, then per session: sid, fingerprint, segment, offset,
--             length, closed ms -> {'ok', result...} with result 'ok' | 'dup'
--             (archived already) | 'changed' (stays live) | 'gone' | 'late' (its
--             object was swept as an orphan: stays live)
--   "loc"     [3] sid -> {'ok', loc} | err not_found
--   "restore" [3] sid, [4] the loc it was read from, [5] record json
--             -> {'ok', 'restored' | 'live'} | err conflict (the index moved)
--   "segs"    -> {'ok', segment, value, ...}
--   "drop"    [3] segment, then sids: forgets those of them archived in that
--             segment (loc, P:idx:all, thread key)
--             -> {'ok', n}
--   "seg_mark" [3] segment -> {'ok'}: marks it being deleted
--   "seg_gone" [3] segment -> {'ok'}
--   "pend"    [3] object segment, [4] now ms -> {'ok'}: before its PUT
--   "orphans" [3] cutoff ms -> {'ok', segment...}: the pending ones older, forgotten
--   "erase_find", "erase_msgs", "erase", "erase_events", "rewrites", "seg_live", "seg_moved":
--             a contact's erasure (og_contact_erase), described at each op
-- Every op replies {'ok', ...} or {'err', code, message} (og_script.h).
local P, op = ARGV[1], ARGV[2]

local function fingerprint(sid, s)
  -- a customer's message writes last_customer_ms only (not updated_at);
  -- last_message_at is left out: msgs_fill writes it between plan and commit
  return table.concat({s.status or '', s.updated_at or '', s.last_customer_ms or '',
    s.closed_at or '', s.csat or '',
    msgs_call(P, sid, 'ZCARD'), redis.call('LLEN', k(P, 'ses', sid, 'tl')),
    redis.call('HLEN', k(P, 'ses', sid))}, '|')
end

-- The provider id index entry of a message, when it points at it: an
-- older version's string key (its name), or nil and the bucket's field
-- {bucket key, provider id, the string key's name relative to P, mid}
-- (prelude.lua pmid_get: the record keeps it as that string key).
local function pmid_key(ch, mid, h)
  local pmid = h.pmid
  if not pmid and h.j then
    -- as written (no escapes: nearly always), else decoded
    pmid = string.match(h.j, '"provider_message_id":"([^"\\]*)"')
    if not pmid and string.find(h.j, '"provider_message_id":null', 1, true) then return nil end
  end
  if not pmid and h.j then
    local ok, m = pcall(cjson.decode, h.j .. '}')
    if ok and type(m) == 'table' and type(m.provider_message_id) == 'string' then
      pmid = m.provider_message_id
    end
  end
  if not pmid or pmid == '' then return nil end
  local c = h.ch or ch
  local hk = pmid_hkey(P, c, pmid)
  if redis.call('HGET', hk, pmid) == mid then
    return nil, {hk, pmid, 'pmid:' .. c .. ':' .. pmid, mid}
  end
  local key = k(P, 'pmid', c, pmid)
  if redis.call('GET', key) == mid then return key end
  return nil
end

-- Every key that belongs to the session alone, as names relative to P;
-- and those that go with it without being archived: the raw payloads
-- kept for a retention (store_raw; one kept "always" is archived); and the
-- provider id index's fields (pmid_key), archived as string keys.
local function keys_of(sid, s)
  local out = {'ses:' .. sid, 'ses:' .. sid .. ':msgs', 'ses:' .. sid .. ':tl',
    'ses:' .. sid .. ':followups'}
  local dropped, pms = {}, {}
  for _, mid in ipairs(msgs_call(P, sid, 'ZRANGE', 0, -1)) do
    out[#out + 1] = 'msg:' .. mid
    local ttl = redis.call('PTTL', k(P, 'raw', mid))
    if ttl == -1 then out[#out + 1] = 'raw:' .. mid
    elseif ttl > 0 then dropped[#dropped + 1] = 'raw:' .. mid end
    local h = hgetall(k(P, 'msg', mid))
    h.j = msg_j_h(mid, h) -- a compact one's too (msg_pack)
    local pk, pe = pmid_key(s.channel, mid, h)
    if pk then out[#out + 1] = pk:sub(#P + 2) end
    if pe then pms[#pms + 1] = pe end
    -- a web chat visitor's uploads are kept with their message
    for fid in string.gmatch(h.j or '', '"media_id":"([%w_%-]+)"') do
      if redis.call('EXISTS', k(P, 'wc', 'file', fid)) == 1 then out[#out + 1] = 'wc:file:' .. fid end
    end
  end
  for _, fid in ipairs(redis.call('ZRANGE', k(P, 'ses', sid, 'followups'), 0, -1)) do
    out[#out + 1] = 'followup:' .. fid
    out[#out + 1] = 'followup:' .. fid .. ':attempts'
  end
  return out, dropped, pms
end

-- A key's type and contents as the record keeps them; nil when it is absent.
local function dump(name)
  local key = P .. ':' .. name
  local t = redis.call('TYPE', key).ok
  if t == 'hash' then
    local v = redis.call('HGETALL', key)
    if name:sub(1, 4) == 'msg:' then
      -- a compact message (msg_pack) is archived with its JSON in j, as
      -- og_archive.c reads it (and restored so: msg_j reads both)
      local h = {}
      for i = 1, #v, 2 do h[v[i]] = v[i + 1] end
      if h.m and not h.j then
        -- with its status, implied beside m (message_json)
        local out = {'j', msg_j_h(name:sub(5), h), 'st', h.st or 'delivered'}
        for i = 1, #v, 2 do
          if v[i] ~= 'm' and v[i] ~= 'st' then out[#out + 1] = v[i]; out[#out + 1] = v[i + 1] end
        end
        v = out
      end
    end
    return {name, t, v}
  elseif t == 'zset' then return {name, t, redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')}
  elseif t == 'list' then return {name, t, redis.call('LRANGE', key, 0, -1)}
  elseif t == 'set' then return {name, t, redis.call('SMEMBERS', key)}
  elseif t == 'string' then return {name, t, {redis.call('GET', key)}}
  end
  return nil
end

-- The index entries a live session has besides its own keys.
local function unindex(sid, s)
  redis.call('ZREM', k(P, 'idx', 'st', s.status or ''), sid)
  redis.call('ZREM', k(P, 'idx', 'ch', s.channel or ''), sid) -- older versions' index
  if s.agent_id and s.agent_id ~= '' then
    redis.call('ZREM', k(P, 'idx', 'agent', s.agent_id), sid)
    redis.call('HDEL', k(P, 'agent', s.agent_id, 'read'), sid)
  end
  if s.group and s.group ~= '' then redis.call('ZREM', k(P, 'idx', 'group', s.group), sid) end
  redis.call('ZREM', k(P, 'queue', s.routing or 'default'), sid)
  for _, t in ipairs({'idle', 'autoclose', 'goal', 'csat', 'window', 'archive', 'autoforward'}) do
    redis.call('ZREM', k(P, 'timers', t), sid)
  end
  for _, mid in ipairs(msgs_call(P, sid, 'ZRANGE', 0, -1)) do
    redis.call('ZREM', k(P, 'flagged'), mid)
  end
  if s.contact_id then redis.call('SREM', k(P, 'con', s.contact_id, 'goals'), sid) end
  redis.call('ZREM', k(P, 'arch', 'due'), sid)
  redis.call('ZREM', k(P, 'arch', 'lease'), sid)
end

local function reindex(sid, s, closed_ms)
  redis.call('ZADD', k(P, 'idx', 'st', s.status or 'closed'), 0, sid)
  redis.call('ZADD', k(P, 'idx', 'all'), 0, sid)
  if s.agent_id and s.agent_id ~= '' then
    redis.call('ZADD', k(P, 'idx', 'agent', s.agent_id), 0, sid)
  end
  if s.group and s.group ~= '' then redis.call('ZADD', k(P, 'idx', 'group', s.group), 0, sid) end
  for _, mid in ipairs(msgs_call(P, sid, 'ZRANGE', 0, -1)) do
    local j = msg_j(P, mid)
    if j and string.find(j, '"flags":["sensitive"]', 1, true) then
      redis.call('ZADD', k(P, 'flagged'), 0, mid)
    end
  end
  if closed_ms and redis.call('EXISTS', k(P, 'arch', 'on')) == 1 then
    redis.call('ZADD', k(P, 'arch', 'due'), closed_ms, sid)
  end
end

-- A record of sid left in seg that no index entry names (restored, or the
-- session changed before its commit): noted, so that an erasure of its
-- contact rewrites seg too and the bytes go, not only the index entry.
local function superseded(sid, seg)
  local wk = k(P, 'arch', 'was')
  local w = redis.call('HGET', wk, sid)
  if not w then
    redis.call('HSET', wk, sid, seg)
  elseif not string.find(' ' .. w .. ' ', ' ' .. seg .. ' ', 1, true) then
    redis.call('HSET', wk, sid, w .. ' ' .. seg)
  end
end

local function archivable(s)
  return s.id and (s.status == 'closed' or s.status == 'archived')
end

-- A follow-up still due (first send or retry) keeps its session live.
local function followup_due(sid)
  for _, fid in ipairs(redis.call('ZRANGE', k(P, 'ses', sid, 'followups'), 0, -1)) do
    if redis.call('ZSCORE', k(P, 'followups', 'due'), fid) then return true end
  end
  return false
end

-- Unix ms of an RFC 3339 UTC time ("2030-06-14T09:20:00.000Z"), nil if not one.
local function iso_to_ms(t)
  local y, mo, d, h, mi, sec = string.match(t or '', '^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)')
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(sec) * 1000
end

if op == 'mode' then
  -- [3] '1': archiving is on (closes add their due entries from now on);
  -- '0': off, and the due entries go (about 100 bytes per closed session):
  -- turned on again, the backfill finds them anew
  if ARGV[3] == '1' then
    redis.call('SET', k(P, 'arch', 'on'), '1')
  else
    redis.call('DEL', k(P, 'arch', 'on'), k(P, 'arch', 'due'), k(P, 'arch', 'backfill'),
      k(P, 'arch', 'lease'))
  end
  return {'ok'}

elseif op == 'backfill' then
  -- Sessions closed before P:arch:due existed (an upgrade): a bounded run
  -- of the closed and archived indexes per call, added with their closed_at.
  -- P:arch:backfill holds where it is ("<status>\t<last id>") or "done".
  -- -> {'ok', 'done' | 'more'}
  local bk = k(P, 'arch', 'backfill')
  local at = redis.call('GET', bk) or 'closed\t'
  if at == 'done' then return {'ok', 'done'} end
  local st, last = string.match(at, '^([^\t]*)\t(.*)$')
  local ids = redis.call('ZRANGEBYLEX', k(P, 'idx', 'st', st), last ~= '' and ('(' .. last) or '-',
    '+', 'LIMIT', 0, 500)
  local dk = k(P, 'arch', 'due')
  for _, sid in ipairs(ids) do
    if not redis.call('ZSCORE', dk, sid) then
      local ms = iso_to_ms(redis.call('HGET', k(P, 'ses', sid), 'closed_at'))
      if ms then redis.call('ZADD', dk, ms, sid) end
    end
  end
  if #ids == 500 then
    redis.call('SET', bk, st .. '\t' .. ids[#ids])
  elseif st == 'closed' then
    redis.call('SET', bk, 'archived\t')
  else
    redis.call('SET', bk, 'done')
    return {'ok', 'done'}
  end
  return {'ok', 'more'}

elseif op == 'claim' then
  local now, cutoff, max, lease = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
  local dk, lk = k(P, 'arch', 'due'), k(P, 'arch', 'lease')
  local out = {'ok'}
  local n = 0
  local ids = redis.call('ZRANGEBYSCORE', dk, '-inf', cutoff, 'WITHSCORES', 'LIMIT', 0, max * 4)
  for i = 1, #ids, 2 do
    if n >= max then break end
    local sid, closed = ids[i], ids[i + 1]
    local held = tonumber(redis.call('ZSCORE', lk, sid) or '')
    if not held or held <= now then
      local s = hgetall(k(P, 'ses', sid))
      if not archivable(s) then
        -- reopened (or gone): a later close adds it again
        redis.call('ZREM', dk, sid)
        redis.call('ZREM', lk, sid)
      elseif followup_due(sid) then
        -- a day later, when the follow-up has been sent
        redis.call('ZADD', dk, tonumber(closed) + 86400000, sid)
      else
        redis.call('ZADD', lk, now + lease, sid)
        tl_fill(P, sid) -- the record keeps the timeline whole
        msgs_fill(P, sid) -- and the message ids' zset
        local keys = {}
        local names, _, pms = keys_of(sid, s)
        for _, name in ipairs(names) do
          local d = dump(name)
          if d then keys[#keys + 1] = d end
        end
        for _, e in ipairs(pms) do keys[#keys + 1] = {e[3], 'string', {e[4]}} end
        local live = s.status
        s.status = 'archived'
        local sj = session_render(P, s)
        s.status = live
        local rec = table.concat({'{"v":1,"sid":', q(sid), ',"cid":', q(s.contact_id),
          ',"ch":', q(s.channel), ',"closed_ms":', closed, ',"session":', sj,
          ',"keys":', cjson.encode(keys), '}'})
        out[#out + 1] = sid
        out[#out + 1] = rec
        out[#out + 1] = fingerprint(sid, s)
        out[#out + 1] = closed
        n = n + 1
      end
    end
  end
  return out

elseif op == 'commit' then
  local lk, locs = k(P, 'arch', 'lease'), k(P, 'arch', 'loc')
  local out = {'ok'}
  local seg1 = ARGV[6] or ''
  if seg1:sub(1, 3) == 's3:' and redis.call('HDEL', k(P, 'arch', 'pend'), seg1) == 0 then
    -- swept as an orphan meanwhile (its object deleted): nothing is indexed
    for i = 4, #ARGV, 6 do
      redis.call('ZREM', lk, ARGV[i])
      out[#out + 1] = 'late'
    end
    return out
  end
  for i = 4, #ARGV, 6 do
    local sid, fp, seg, off, len, closed = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3],
      ARGV[i + 4], ARGV[i + 5]
    local s = hgetall(k(P, 'ses', sid))
    if redis.call('HEXISTS', locs, sid) == 1 then
      superseded(sid, seg)
      out[#out + 1] = 'dup'
    elseif not archivable(s) then
      redis.call('ZREM', lk, sid)
      -- reopened, or erased meanwhile: its record goes with a rewrite
      if s.id then superseded(sid, seg) else redis.call('SADD', k(P, 'arch', 'rewrite'), seg) end
      out[#out + 1] = 'gone'
    elseif fingerprint(sid, s) ~= fp then
      redis.call('ZREM', lk, sid) -- claimed again by the next pass, as it is now
      superseded(sid, seg)
      out[#out + 1] = 'changed'
    else
      local names, dropped, pms = keys_of(sid, s)
      unindex(sid, s)
      for _, name in ipairs(names) do redis.call('DEL', P .. ':' .. name) end
      for _, name in ipairs(dropped) do redis.call('DEL', P .. ':' .. name) end
      for _, e in ipairs(pms) do redis.call('HDEL', e[1], e[2]) end
      local cid = s.contact_id or ''
      redis.call('HSET', locs, sid,
        table.concat({seg, off, len, cid, s.channel or '', s.thread_id or ''}, '\t'))
      local sk = k(P, 'arch', 'segs')
      local newest = tonumber(redis.call('HGET', sk, seg) or '') or 0
      if tonumber(closed) > newest then redis.call('HSET', sk, seg, closed) end
      out[#out + 1] = 'ok'
    end
  end
  return out

elseif op == 'loc' then
  local loc = redis.call('HGET', k(P, 'arch', 'loc'), ARGV[3])
  if not loc then return {'err', 'not_found', 'no such session'} end
  return {'ok', loc}

elseif op == 'restore' then
  local sid, from, rec = ARGV[3], ARGV[4], ARGV[5]
  local locs = k(P, 'arch', 'loc')
  local loc = redis.call('HGET', locs, sid)
  if not loc then
    if redis.call('EXISTS', k(P, 'ses', sid)) == 1 then return {'ok', 'live'} end
    return {'err', 'not_found', 'no such session'}
  end
  if loc ~= from then return {'err', 'conflict', 'the archive index moved; read it again'} end
  local r = cjson.decode(rec)
  record_write(P, r, false)
  local s = hgetall(k(P, 'ses', sid))
  reindex(sid, s, r.closed_ms)
  redis.call('HDEL', locs, sid)
  superseded(sid, loc:match('^[^\t]*'))
  return {'ok', 'restored'}

elseif op == 'segs' then
  local out = redis.call('HGETALL', k(P, 'arch', 'segs'))
  table.insert(out, 1, 'ok')
  return out

elseif op == 'drop' then
  local seg = ARGV[3]
  local locs = k(P, 'arch', 'loc')
  local n = 0
  for i = 4, #ARGV do
    local sid = ARGV[i]
    local loc = redis.call('HGET', locs, sid)
    if loc and loc:sub(1, #seg + 1) == seg .. '\t' then
      local cid, ch, thread = loc:match('^[^\t]*\t[^\t]*\t[^\t]*\t([^\t]*)\t([^\t]*)\t(.*)$')
      redis.call('HDEL', locs, sid)
      redis.call('ZREM', k(P, 'idx', 'all'), sid)
      if ch then
        if thread_del(P, ch, thread, sid) then
          -- the contact's own thread named it (contact_of): it keeps a key
          if cid and cid ~= '' and redis.call('HGET', k(P, 'con', cid), 'external_id') == thread then
            redis.call('SET', k(P, 'contact', ch, thread), cid, 'NX')
          end
        end
      end
      n = n + 1
    end
  end
  return {'ok', n}

elseif op == 'erase_find' then
  -- [3] contact id, [4] cursor ('' = start): the contact's sessions, a
  -- bounded scan of the sessions' index per call
  local cid, cursor = ARGV[3], ARGV[4]
  local c = hgetall(k(P, 'con', cid))
  local out = {'ok', ''}
  if not c.id then
    return {'err', 'not_found', 'no such contact'}
  else
    local min = cursor ~= '' and ('(' .. cursor) or '-'
    local ids = redis.call('ZRANGEBYLEX', k(P, 'idx', 'all'), min, '+', 'LIMIT', 0, 2000)
    for _, sid in ipairs(ids) do
      if redis.call('HGET', k(P, 'ses', sid), 'contact_id') == cid then out[#out + 1] = sid end
    end
    if #ids == 2000 then out[2] = ids[#ids] end
  end
  if cursor == '' then
    -- an archived session has no hash to name its contact; its thread key
    -- (kept) finds it: a one-to-one thread has one session, which a closed
    -- one's new message reopens rather than replaces
    local t = thread_get(P, c.channel, c.external_id)
    if t then out[#out + 1] = t end
  end
  return out

elseif op == 'erase_msgs' then
  -- [3..] sessions: the JSON (j) of every message of those live -> {'ok', j...}
  local out = {'ok'}
  for i = 3, #ARGV do
    for _, mid in ipairs(msgs_call(P, ARGV[i], 'ZRANGE', 0, -1)) do
      local j = msg_j(P, mid)
      if j then out[#out + 1] = j end
    end
  end
  return out

elseif op == 'erase' then
  -- [3] contact id, then its sessions: every key and index entry of each,
  -- live or archived (an archived one's segment is queued for rewriting),
  -- then the contact. -> {'ok', sessions erased}
  local cid = ARGV[3]
  local c = hgetall(k(P, 'con', cid))
  local subs = redis.call('HKEYS', k(P, 'webhooks'))
  local agents = redis.call('SMEMBERS', k(P, 'agents'))
  local locs = k(P, 'arch', 'loc')
  local n, seen = 0, {}
  for i = 4, #ARGV do
    local sid = ARGV[i]
    if not seen[sid] then
      seen[sid] = true
      local s = hgetall(k(P, 'ses', sid))
      local ch, thread
      if s.id and s.contact_id == cid then
        ch, thread = s.channel, s.thread_id
        for _, fid in ipairs(redis.call('ZRANGE', k(P, 'ses', sid, 'followups'), 0, -1)) do
          redis.call('ZREM', k(P, 'followups', 'due'), fid)
        end
        local names, dropped, pms = keys_of(sid, s)
        unindex(sid, s)
        for _, name in ipairs(names) do redis.call('DEL', P .. ':' .. name) end
        for _, name in ipairs(dropped) do redis.call('DEL', P .. ':' .. name) end
        for _, e in ipairs(pms) do redis.call('HDEL', e[1], e[2]) end
        n = n + 1
      end
      local loc = redis.call('HGET', locs, sid)
      if loc and (s.id == nil or s.contact_id == cid) then
        local seg, lc, lch, lthread = loc:match('^([^\t]*)\t[^\t]*\t[^\t]*\t([^\t]*)\t([^\t]*)\t(.*)$')
        if lc == cid then
          redis.call('HDEL', locs, sid)
          redis.call('SADD', k(P, 'arch', 'rewrite'), seg)
          ch, thread = lch, lthread
          n = n + 1
        end
      end
      if ch then
        local wk = k(P, 'arch', 'was')
        for seg in string.gmatch(redis.call('HGET', wk, sid) or '', '%S+') do
          redis.call('SADD', k(P, 'arch', 'rewrite'), seg)
        end
        redis.call('HDEL', wk, sid)
        redis.call('ZREM', k(P, 'idx', 'all'), sid)
        redis.call('ZREM', k(P, 'arch', 'due'), sid)
        redis.call('ZREM', k(P, 'arch', 'lease'), sid)
        thread_del(P, ch, thread, sid)
        for _, sub in ipairs(subs) do
          redis.call('DEL', k(P, 'wh', sub, 'q', sid))
          redis.call('ZREM', k(P, 'wh', 'due'), sub .. '\t' .. sid)
        end
        for _, aid in ipairs(agents) do redis.call('HDEL', k(P, 'agent', aid, 'read'), sid) end
        for _, m in ipairs(redis.call('ZRANGE', k(P, 'timers', 'silence'), 0, -1)) do
          if m:sub(-#sid - 1) == ':' .. sid then redis.call('ZREM', k(P, 'timers', 'silence'), m) end
        end
        for _, m in ipairs(redis.call('ZRANGE', k(P, 'timers', 'texts'), 0, -1)) do
          if m:sub(1, #sid + 1) == sid .. '|' then redis.call('ZREM', k(P, 'timers', 'texts'), m) end
        end
      end
    end
  end
  if c.id then
    local ck = k(P, 'contact', c.channel, c.external_id)
    if redis.call('GET', ck) == cid then redis.call('DEL', ck) end
  end
  redis.call('DEL', k(P, 'con', cid), k(P, 'con', cid, 'goals'))
  return {'ok', n}

elseif op == 'erase_events' then
  -- [3] stream cursor ('' = start), then the ids: deletes a bounded run of
  -- events of those sessions or naming them -> {'ok', next cursor | '', n}
  local ek = k(P, 'events')
  local ids = {}
  for i = 4, #ARGV do ids[ARGV[i]] = true end
  local start = ARGV[3] ~= '' and ('(' .. ARGV[3]) or '-'
  local es = redis.call('XRANGE', ek, start, '+', 'COUNT', 2000)
  local del = {}
  for _, e in ipairs(es) do
    local f = e[2]
    local hit = false
    for j = 1, #f, 2 do
      if f[j] == 'session' and ids[f[j + 1]] then hit = true end
      if f[j] == 'event' and not hit then
        for id in pairs(ids) do
          if string.find(f[j + 1], id, 1, true) then hit = true; break end
        end
      end
    end
    if hit then del[#del + 1] = e[1] end
  end
  if #del > 0 then redis.call('XDEL', ek, unpack(del)) end
  return {'ok', #es == 2000 and es[#es][1] or '', #del}

elseif op == 'rewrites' then
  local out = redis.call('SMEMBERS', k(P, 'arch', 'rewrite'))
  table.insert(out, 1, 'ok')
  return out

elseif op == 'seg_live' then
  -- [3] segment, then sid, offset pairs -> {'ok', '1' | '0' each}: whether
  -- the index points at that record
  local seg, locs = ARGV[3], k(P, 'arch', 'loc')
  local out = {'ok'}
  for i = 4, #ARGV, 2 do
    local loc = redis.call('HGET', locs, ARGV[i])
    out[#out + 1] = (loc and loc:sub(1, #seg + #ARGV[i + 1] + 2) == seg .. '\t' .. ARGV[i + 1] .. '\t')
      and '1' or '0'
  end
  return out

elseif op == 'seg_moved' then
  -- [3] old segment, [4] new segment ('' = none left), then sid, old
  -- offset, new offset, new length: the index follows the rewritten copy
  local old, new, locs, sk = ARGV[3], ARGV[4], k(P, 'arch', 'loc'), k(P, 'arch', 'segs')
  if new:sub(1, 3) == 's3:' and redis.call('HDEL', k(P, 'arch', 'pend'), new) == 0 then
    return {'err', 'conflict', 'the rewritten object was swept as an orphan'}
  end
  for i = 5, #ARGV, 4 do
    local sid = ARGV[i]
    local loc = redis.call('HGET', locs, sid)
    local pre = old .. '\t' .. ARGV[i + 1] .. '\t'
    if loc and loc:sub(1, #pre) == pre then
      local rest = loc:match('^[^\t]*\t[^\t]*\t[^\t]*\t(.*)$')
      redis.call('HSET', locs, sid, table.concat({new, ARGV[i + 2], ARGV[i + 3], rest}, '\t'))
    end
  end
  local v = redis.call('HGET', sk, old)
  redis.call('HDEL', sk, old)
  if new ~= '' then redis.call('HSET', sk, new, v or '0') end
  redis.call('HSET', sk, '-' .. old, v or '0') -- og_archive.c deletes the file, then seg_gone
  redis.call('SREM', k(P, 'arch', 'rewrite'), old)
  return {'ok'}

elseif op == 'pend' then
  redis.call('HSET', k(P, 'arch', 'pend'), ARGV[3], ARGV[4])
  return {'ok'}

elseif op == 'orphans' then
  local pk, cutoff = k(P, 'arch', 'pend'), tonumber(ARGV[3])
  local all = redis.call('HGETALL', pk)
  local out = {'ok'}
  for i = 1, #all, 2 do
    if tonumber(all[i + 1]) < cutoff then
      redis.call('HDEL', pk, all[i])
      out[#out + 1] = all[i]
    end
  end
  return out

elseif op == 'seg_mark' then
  local sk = k(P, 'arch', 'segs')
  local v = redis.call('HGET', sk, ARGV[3])
  redis.call('HDEL', sk, ARGV[3])
  redis.call('HSET', sk, '-' .. ARGV[3], v or '0')
  return {'ok'}

elseif op == 'seg_gone' then
  redis.call('HDEL', k(P, 'arch', 'segs'), '-' .. ARGV[3], ARGV[3])
  return {'ok'}
end
return {'err', 'internal', 'archive.lua: unknown op ' .. tostring(op)}
