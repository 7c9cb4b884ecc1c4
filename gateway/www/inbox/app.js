// app.js - the agent inbox: sign-in, the lists (Queue, Mine, All, Closed)
// with filters, search and unread counters, the conversation and its
// actions, kept live by the event stream. One state object (S), small
// render functions; the team and admin pages are in admin.js.
import { api, qs, setCsrf, setUnauthorizedHandler, ApiError } from './api.js';
import { el, fill, safeUrl, shortTime, fullTime, clock, since, initials, hue } from './dom.js';
import { connect } from './live.js';
import { renderTeam, renderAgents, renderWebhooks } from './admin.js';
import { renderStats, renderExports } from './stats.js';
import { dialog, field, toast } from './ui.js';

const S = {
  me: null, role: 'agent', meta: null, view: 'queue',
  sessions: new Map(), list: [], listState: 'idle', listError: '',
  counts: { queue: 0, mine: 0, unread: 0 },
  filters: {}, showFilters: false, current: null, messages: [], msgState: 'idle',
  live: 'connecting', sound: localStorage.getItem('og.sound') === '1',
  pane: 'list', details: false, feed: null, baseTitle: 'omnigate inbox', alert: '',
};
const app = document.getElementById('app');
const isManager = () => S.role === 'manager' || S.role === 'admin';
const STATUS_LABEL = {
  new: 'New', active: 'Active', awaiting: 'Awaiting reply', closed: 'Closed',
  transferred: 'Transferred', archived: 'Archived',
};
const REASON_LABEL = {
  solved: 'Problem solved', no_response: 'Customer not responding',
  transferred: 'Handed to another specialist', other: 'Other',
};
const VIEWS = {
  queue: 'Queue', mine: 'Mine', all: 'All conversations', closed: 'Closed',
  team: 'Team', agents: 'Agents', webhooks: 'Webhooks', statistics: 'Statistics', exports: 'Exports',
};

// ------------------------------------------------------------- start-up

async function start() {
  setUnauthorizedHandler(() => showSignIn('Your session ended. Sign in again.'));
  const m = /^#set-password=([A-Za-z0-9_-]{43})$/.exec(location.hash);
  if (m) return showSetPassword(m[1]);
  try {
    const me = await api('GET', '/auth/me', undefined, { quiet401: true });
    await enter(me);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) showSignIn('');
    else fill(app, el('p', { class: 'boot error' }, e.message));
  }
}

async function enter(me) {
  S.me = me.agent;
  S.role = me.role || (me.agent && me.agent.role) || 'agent';
  setCsrf(me.csrf_token);
  S.meta = await api('GET', '/meta');
  buildShell();
  route();
  window.addEventListener('hashchange', route);
  S.feed = connect({ onEvent, onState: setLive, onDead: checkAlive });
  setInterval(tick, 30000);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) { S.alert = ''; updateTitle(); } });
}

async function checkAlive() {
  try { await api('GET', '/auth/me', undefined, { quiet401: true }); return true; } catch (e) {
    if (e.status === 401) { showSignIn('Your session ended. Sign in again.'); return false; }
    return true;
  }
}

// --------------------------------------------------------------- sign-in

function showSignIn(message) {
  if (S.feed) { S.feed.close(); S.feed = null; }
  S.me = null;
  document.title = 'Sign in · omnigate';
  const err = el('p', { class: 'form-error', role: 'alert' }, message || '');
  const email = el('input', { id: 'email', type: 'email', autocomplete: 'username', required: true });
  const pw = el('input', { id: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = el('button', { class: 'btn primary wide', type: 'submit' }, 'Sign in');
  const form = el('form', { class: 'card signin', onsubmit: async (ev) => {
    ev.preventDefault();
    btn.disabled = true; btn.textContent = 'Signing in…'; err.textContent = '';
    try {
      const r = await api('POST', '/auth/login', { email: email.value.trim(), password: pw.value }, { quiet401: true });
      history.replaceState(null, '', '#/queue');
      await enter({ agent: r.agent, role: r.agent.role, csrf_token: r.csrf_token });
    } catch (e) {
      err.textContent = e.status === 429
        ? `Too many attempts. Try again in ${Math.ceil(e.retryAfter / 60) || 1} min.`
        : e.message;
      btn.disabled = false; btn.textContent = 'Sign in'; pw.select();
    }
  } },
  el('div', { class: 'brand big' }, el('img', { src: 'icon.svg', alt: '' }), 'omnigate'),
  el('h1', {}, 'Sign in to your inbox'),
  el('label', { for: 'email' }, 'E-mail'), email,
  el('label', { for: 'password' }, 'Password'), pw,
  err, btn,
  el('p', { class: 'muted small' }, 'Forgot your password? Ask an admin for a reset link.'));
  fill(app, el('main', { class: 'center' }, form));
  email.focus();
}

function showSetPassword(token) {
  document.title = 'Set your password · omnigate';
  const err = el('p', { class: 'form-error', role: 'alert' });
  const pw = el('input', { id: 'pw1', type: 'password', autocomplete: 'new-password', minlength: 10, required: true });
  const pw2 = el('input', { id: 'pw2', type: 'password', autocomplete: 'new-password', required: true });
  const btn = el('button', { class: 'btn primary wide', type: 'submit' }, 'Set password');
  const form = el('form', { class: 'card signin', onsubmit: async (ev) => {
    ev.preventDefault();
    if (pw.value !== pw2.value) { err.textContent = 'The two passwords differ.'; return; }
    btn.disabled = true;
    try {
      await api('POST', '/auth/password', { token, password: pw.value }, { quiet401: true });
      history.replaceState(null, '', location.pathname);
      showSignIn('');
      toast('Password set. Sign in with it now.');
    } catch (e) { err.textContent = e.message; btn.disabled = false; }
  } },
  el('div', { class: 'brand big' }, el('img', { src: 'icon.svg', alt: '' }), 'omnigate'),
  el('h1', {}, 'Choose your password'),
  el('p', { class: 'muted small' }, 'At least 10 characters. This link works once.'),
  el('label', { for: 'pw1' }, 'New password'), pw,
  el('label', { for: 'pw2' }, 'Repeat it'), pw2, err, btn);
  fill(app, el('main', { class: 'center' }, form));
  pw.focus();
}

// ----------------------------------------------------------------- shell

const R = {}; // the shell's parts

function buildShell() {
  const presence = el('select', { id: 'presence', 'aria-label': 'Your status', class: 'presence', onchange: setPresence },
    ['online', 'away', 'offline'].map((p) => el('option', { value: p, selected: S.me && S.me.presence === p }, p[0].toUpperCase() + p.slice(1))));
  R.search = el('input', { type: 'search', placeholder: 'Search names and messages', 'aria-label': 'Search conversations',
    oninput: debounce(() => { S.filters.q = R.search.value.trim(); loadList(); }, 300) });
  R.liveDot = el('span', { class: 'live connecting', role: 'status' }, 'Connecting…');
  R.soundBtn = el('button', { class: 'btn ghost icon', type: 'button', 'aria-pressed': S.sound ? 'true' : 'false',
    title: 'Play a sound on new conversations and messages', onclick: toggleSound }, S.sound ? 'Sound on' : 'Sound off');
  const who = S.me ? S.me.name || S.me.email : 'Admin';
  R.top = el('header', { class: 'topbar' },
    el('a', { class: 'brand', href: '#/queue' }, el('img', { src: 'icon.svg', alt: '' }), 'omnigate'),
    el('div', { class: 'search' }, R.search), R.liveDot, R.soundBtn,
    S.me ? el('span', { class: 'presence-wrap' }, el('span', { class: 'dot', 'data-p': S.me.presence }), presence) : null,
    el('span', { class: 'avatar sm', style: { '--h': hue(who) }, title: who, 'aria-hidden': 'true' }, initials(who)),
    el('button', { class: 'btn ghost', type: 'button', onclick: signOut }, 'Sign out'));
  R.nav = el('nav', { class: 'nav', 'aria-label': 'Lists' });
  R.listpane = el('section', { class: 'listpane', 'aria-label': 'Conversations' });
  R.conv = el('section', { class: 'convpane', 'aria-label': 'Conversation' });
  R.details = el('aside', { class: 'details', 'aria-label': 'Details' });
  R.page = el('section', { class: 'page' });
  R.shell = el('div', { class: 'shell', 'data-pane': 'list' }, R.top, R.nav, R.listpane, R.conv, R.details, R.page);
  fill(app, R.shell);
}

function renderNav() {
  const item = (v, count, cls) => el('a', { href: '#/' + v, class: 'navitem' + (S.view === v ? ' on' : ''),
    'aria-current': S.view === v ? 'page' : null },
  el('span', {}, VIEWS[v]), count ? el('span', { class: 'badge ' + (cls || ''), 'aria-label': `${count} ${cls === 'red' ? 'unread' : 'waiting'}` }, String(count)) : null);
  const canStart = S.meta.channels.some((c) => c.start_outbound);
  fill(R.nav,
    item('queue', S.counts.queue, 'blue'),
    S.me ? item('mine', S.counts.unread, 'red') : null,
    isManager() ? item('all') : null,
    item('closed'),
    canStart ? el('button', { class: 'btn primary new', type: 'button', onclick: () => newConversation() }, '+ New conversation') : null,
    el('div', { class: 'navhead' }, 'Reports'),
    item('statistics'),
    isManager() ? item('exports') : null,
    isManager() ? el('div', { class: 'navhead' }, 'Manage') : null,
    isManager() ? item('team') : null,
    S.role === 'admin' ? item('agents') : null,
    S.role === 'admin' ? item('webhooks') : null);
  updateTitle();
}

function setLive(state) {
  S.live = state;
  R.liveDot.className = 'live ' + state;
  R.liveDot.textContent = state === 'live' ? 'Live' : state === 'reconnecting' ? 'Reconnecting…' : 'Connecting…';
  if (state === 'live') scheduleRefresh(); // catch up with anything missed
}

function updateTitle() {
  const n = S.counts.queue + S.counts.unread;
  document.title = (S.alert ? S.alert + ' · ' : '') + (n ? `(${n}) ` : '') + S.baseTitle;
}

// ---------------------------------------------------------------- routing

function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const [view, id] = h.split('/');
  if (view === 's' && id) {
    if (!['queue', 'mine', 'all', 'closed'].includes(S.view)) S.view = S.me ? 'mine' : 'queue';
    return openSession(id);
  }
  S.view = VIEWS[view] && (view !== 'mine' || S.me) ? view : 'queue';
  if (S.view === 'exports' && !isManager()) S.view = 'statistics';
  if (['team', 'agents', 'webhooks', 'statistics', 'exports'].includes(S.view)) {
    R.shell.dataset.mode = 'page';
    renderNav();
    const ctx = { S, api, toast, dialog, field, el, fill, fullTime };
    if (S.view === 'statistics') renderStats(R.page, ctx);
    else if (S.view === 'exports') renderExports(R.page, ctx);
    else if (S.view === 'team') renderTeam(R.page, ctx);
    else if (S.view === 'agents') renderAgents(R.page, ctx);
    else renderWebhooks(R.page, ctx);
    return;
  }
  R.shell.dataset.mode = 'inbox';
  if (S.view !== 'all') { delete S.filters.status; delete S.filters.agent_id; }
  S.pane = 'list';
  R.shell.dataset.pane = 'list';
  renderNav();
  loadList();
  if (!S.current) renderEmptyConversation();
}

// ------------------------------------------------------------------ lists

function belongs(s, view) {
  if (view === 'queue') return (s.status === 'new' || s.status === 'transferred') && !s.agent_id;
  if (view === 'mine') return S.me && s.agent_id === S.me.id && ['active', 'awaiting', 'transferred'].includes(s.status);
  if (view === 'closed') return s.status === 'closed' || s.status === 'archived';
  return true;
}

function sortList(ids) {
  const key = (id) => {
    const s = S.sessions.get(id);
    if (S.view === 'queue') return -(new Date(waitingSince(s)).getTime()); // oldest first
    return new Date(s.last_message_at || s.updated_at || s.created_at).getTime();
  };
  return ids.sort((a, b) => key(b) - key(a));
}

function waitingSince(s) {
  return s.status === 'transferred' ? s.updated_at : s.created_at;
}

async function fetchSessions(params) {
  const r = await api('GET', '/sessions' + qs({ limit: 100, ...params }));
  return r.items;
}

async function loadList() {
  const view = S.view;
  const f = S.filters;
  const base = { channel: f.channel, group: f.group, from: f.from, to: f.to, success_code: f.success_code, q: f.q };
  S.listState = 'loading';
  renderListPane();
  try {
    let items;
    if (view === 'queue') {
      items = (await Promise.all([fetchSessions({ ...base, status: 'new' }), fetchSessions({ ...base, status: 'transferred' })])).flat()
        .filter((s) => !s.agent_id);
    } else if (view === 'mine') {
      items = (await Promise.all(['active', 'awaiting', 'transferred'].map((st) => fetchSessions({ ...base, status: st, agent_id: S.me.id })))).flat();
    } else if (view === 'closed') {
      items = (await Promise.all([fetchSessions({ ...base, status: 'closed' }), fetchSessions({ ...base, status: 'archived' })])).flat();
    } else {
      items = await fetchSessions({ ...base, status: f.status, agent_id: f.agent_id });
    }
    if (view !== S.view) return;
    for (const s of items) S.sessions.set(s.id, s);
    S.list = sortList([...new Set(items.map((s) => s.id))]);
    S.listState = 'ok';
    if (view === 'queue' && !activeFilters() && !f.q) S.counts.queue = S.list.length;
  } catch (e) {
    S.listState = 'error';
    S.listError = e.message;
  }
  renderListPane();
  refreshCounts();
}

async function refreshCounts() {
  try {
    const [n, t] = await Promise.all([fetchSessions({ status: 'new', limit: 200 }), fetchSessions({ status: 'transferred', limit: 200 })]);
    for (const s of [...n, ...t]) S.sessions.set(s.id, { ...S.sessions.get(s.id), ...s });
    S.counts.queue = [...n, ...t].filter((s) => !s.agent_id).length;
    if (S.me) {
      const mine = (await Promise.all(['active', 'awaiting', 'transferred'].map((st) => fetchSessions({ status: st, agent_id: S.me.id, limit: 200 })))).flat();
      S.counts.unread = mine.reduce((a, s) => a + (s.id === S.current ? 0 : s.unread || 0), 0);
    }
    renderNav();
  } catch (_) { /* the next event or tick tries again */ }
}

function renderListPane() {
  const title = el('h2', {}, VIEWS[S.view]);
  const filterBtn = el('button', { class: 'btn ghost sm', type: 'button', 'aria-expanded': S.showFilters ? 'true' : 'false',
    onclick: () => { S.showFilters = !S.showFilters; renderListPane(); } },
  'Filters' + (activeFilters() ? ` (${activeFilters()})` : ''));
  const head = el('div', { class: 'listhead' }, title, filterBtn);
  let body;
  if (S.listState === 'loading' && !S.list.length) body = el('div', { class: 'empty' }, 'Loading…');
  else if (S.listState === 'error') body = el('div', { class: 'empty error' }, S.listError, el('button', { class: 'btn sm', onclick: loadList }, 'Retry'));
  else if (!S.list.length) body = el('div', { class: 'empty' }, emptyText());
  else body = el('ul', { class: 'items', role: 'list' }, S.list.map((id) => listItem(S.sessions.get(id))));
  fill(R.listpane, head, S.showFilters ? filtersForm() : null, body);
}

function emptyText() {
  if (activeFilters() || S.filters.q) return 'Nothing matches these filters.';
  return { queue: 'Nobody is waiting. New conversations appear here at once.', mine: 'No open conversations assigned to you.',
    closed: 'No closed conversations yet.', all: 'No conversations yet.' }[S.view];
}

function activeFilters() {
  return ['status', 'channel', 'agent_id', 'group', 'from', 'to', 'success_code'].filter((k) => S.filters[k]).length;
}

function filtersForm() {
  const m = S.meta;
  const sel = (name, label, opts) => field(label, el('select', { name, onchange: onFilter },
    el('option', { value: '' }, 'Any'), opts.map(([v, t]) => el('option', { value: v, selected: S.filters[name] === v }, t))));
  const date = (name, label) => field(label, el('input', { type: 'date', name, value: S.filters[name] || '', onchange: onFilter }));
  return el('form', { class: 'filters', onsubmit: (e) => e.preventDefault() },
    S.view === 'all' ? sel('status', 'Status', m.statuses.map((s) => [s, STATUS_LABEL[s]])) : null,
    sel('channel', 'Channel', m.channels.map((c) => [c.id, c.id])),
    isManager() && S.view !== 'mine' ? sel('agent_id', 'Agent', m.agents.map((a) => [a.id, a.name || a.id])) : null,
    m.groups.length ? sel('group', 'Group', m.groups.map((g) => [g, g])) : null,
    date('from', 'From'), date('to', 'To'),
    m.close.success_codes.length
      ? sel('success_code', 'Success code', m.close.success_codes.map((c) => [c, c]))
      : field('Success code', el('input', { name: 'success_code', value: S.filters.success_code || '', onchange: onFilter })),
    el('button', { class: 'btn ghost sm', type: 'button', onclick: () => { S.filters = { q: S.filters.q }; loadList(); } }, 'Clear'));
}

function onFilter(e) {
  S.filters[e.target.name] = e.target.value;
  loadList();
}

function channelBadge(ch) {
  return el('span', { class: 'chan', title: 'Channel ' + ch }, ch);
}

function statusPill(st) {
  return el('span', { class: 'pill st-' + st }, STATUS_LABEL[st] || st);
}

function agentName(id) {
  if (!id) return '';
  if (S.me && id === S.me.id) return 'You';
  const a = S.meta.agents.find((x) => x.id === id);
  return a ? a.name || a.id : id;
}

function contactName(s) {
  const c = s.contact || {};
  return c.name || c.username || c.external_id || 'Customer';
}

function listItem(s) {
  const name = contactName(s);
  const waiting = S.view === 'queue';
  const meta = waiting ? `waiting ${since(waitingSince(s))}` : shortTime(s.last_message_at || s.updated_at);
  return el('li', {},
    el('a', { href: '#/s/' + s.id, class: 'item' + (s.id === S.current ? ' on' : '') + (s.unread ? ' unread' : ''),
      'data-id': s.id, 'aria-current': s.id === S.current ? 'true' : null },
    el('span', { class: 'avatar', style: { '--h': hue(name) }, 'aria-hidden': 'true' }, initials(name)),
    el('span', { class: 'item-main' },
      el('span', { class: 'item-top' }, el('span', { class: 'item-name' }, name), el('span', { class: 'item-time' + (waiting ? ' waiting' : '') }, meta)),
      el('span', { class: 'item-sub' }, channelBadge(s.channel),
        s.status === 'new' && !s.agent_id ? el('span', { class: 'pill st-new' }, 'New') : statusPill(s.status),
        s.agent_id && S.view !== 'mine' ? el('span', { class: 'muted small' }, agentName(s.agent_id)) : null,
        s.group && !s.agent_id ? el('span', { class: 'muted small' }, '→ ' + s.group) : null)),
    s.unread ? el('span', { class: 'badge red', 'aria-label': `${s.unread} unread` }, String(s.unread)) : null));
}

// ---------------------------------------------------------- conversation

function renderEmptyConversation() {
  fill(R.conv, el('div', { class: 'blank' }, el('img', { src: 'icon.svg', alt: '', class: 'blank-icon' }),
    el('h2', {}, 'Pick a conversation'), el('p', { class: 'muted' }, 'Choose one from the list, or take the next one waiting in the Queue.')));
  fill(R.details);
}

async function openSession(id) {
  S.current = id;
  S.pane = 'conv';
  R.shell.dataset.mode = 'inbox';
  R.shell.dataset.pane = 'conv';
  renderNav();
  if (!S.list.length) loadList(); else renderListPane();
  S.msgState = 'loading';
  S.messages = [];
  renderConversation();
  try {
    const [s, msgs] = await Promise.all([api('GET', '/sessions/' + id), loadMessages(id)]);
    if (S.current !== id) return;
    s.unread = 0;
    S.sessions.set(id, s);
    S.messages = msgs;
    S.msgState = 'ok';
  } catch (e) {
    S.msgState = 'error';
    S.msgError = e.status === 404 ? 'This conversation does not exist or is not yours to see.' : e.message;
  }
  renderConversation();
  renderListPane();
  refreshCounts();
}

async function loadMessages(id) {
  let out = [], cursor = '';
  for (let i = 0; i < 10; i++) {
    const r = await api('GET', `/sessions/${id}/messages` + qs({ limit: 200, cursor }));
    out = out.concat(r.items);
    if (!r.next_cursor) break;
    cursor = r.next_cursor;
  }
  return out;
}

function renderConversation() {
  const s = S.sessions.get(S.current);
  if (S.msgState === 'error') {
    fill(R.conv, convHead(null), el('div', { class: 'blank' }, el('p', { class: 'error' }, S.msgError)));
    fill(R.details);
    return;
  }
  if (!s) { fill(R.conv, convHead(null), el('div', { class: 'blank' }, 'Loading…')); return; }
  R.thread = el('ol', { class: 'thread', 'aria-label': 'Messages' }, threadItems());
  fill(R.conv, convHead(s), el('div', { class: 'thread-wrap' }, R.thread), composer(s));
  renderDetails(s);
  R.thread.parentNode.scrollTop = R.thread.parentNode.scrollHeight;
}

function convHead(s) {
  const back = el('button', { class: 'btn ghost icon back', type: 'button', 'aria-label': 'Back to the list',
    onclick: () => { S.current = null; location.hash = '#/' + S.view; } }, '←');
  if (!s) return el('div', { class: 'convhead' }, back);
  const mineNow = S.me && s.agent_id === S.me.id;
  const canAct = mineNow || isManager();
  const open = s.status !== 'closed' && s.status !== 'archived';
  const queued = (s.status === 'new' || s.status === 'transferred') && !s.agent_id;
  return el('div', { class: 'convhead' }, back,
    el('span', { class: 'avatar', style: { '--h': hue(contactName(s)) }, 'aria-hidden': 'true' }, initials(contactName(s))),
    el('div', { class: 'convtitle' }, el('h2', {}, contactName(s)),
      el('span', { class: 'sub' }, channelBadge(s.channel), statusPill(s.status), s.agent_id ? el('span', { class: 'muted small' }, 'with ' + agentName(s.agent_id)) : null)),
    el('div', { class: 'actions' },
      queued && S.me ? el('button', { class: 'btn primary', type: 'button', onclick: () => take(s) }, 'Take') : null,
      open && canAct ? el('button', { class: 'btn', type: 'button', onclick: () => transfer(s) }, 'Transfer') : null,
      open && canAct ? el('button', { class: 'btn', type: 'button', onclick: () => closeSession(s) }, 'Close') : null,
      !open ? el('button', { class: 'btn', type: 'button', onclick: () => reopen(s) }, 'Reopen') : null,
      el('button', { class: 'btn ghost icon info', type: 'button', 'aria-label': 'Details', 'aria-expanded': S.details ? 'true' : 'false',
        onclick: () => { S.details = !S.details; R.shell.dataset.details = S.details ? 'open' : ''; } }, 'Details')));
}

const STATUS_MARK = { pending: '🕓', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };

function threadItems() {
  if (S.msgState === 'loading') return [el('li', { class: 'muted center-text' }, 'Loading the conversation…')];
  let lastDay = '';
  const out = [];
  for (const m of S.messages) {
    const day = new Date(m.created_at).toDateString();
    if (day !== lastDay) {
      out.push(el('li', { class: 'day' }, new Intl.DateTimeFormat(undefined, { dateStyle: 'full' }).format(new Date(m.created_at))));
      lastDay = day;
    }
    out.push(messageItem(m));
  }
  if (!out.length) out.push(el('li', { class: 'muted center-text' }, 'No messages yet.'));
  return out;
}

function messageItem(m) {
  const dir = m.direction === 'out' ? 'out' : m.sender && m.sender.type === 'system' ? 'sys' : 'in';
  const sender = m.sender || {};
  const who = dir === 'out' ? (sender.type === 'system' ? 'Automatic text'
    : sender.id === 'admin' ? 'Admin' : agentName(sender.id) || sender.name || 'Agent')
    : sender.name || contactName(S.sessions.get(m.session_id) || {});
  const atts = (m.attachments || []).map((a, i) => {
    // every file through omnigate's own route, with this page's cookie: the
    // platform is asked once, the type is the bytes', and the browser never
    // reaches a third party (img-src 'self')
    const url = /^msg_[0-9A-Za-z]+$/.test(m.id || '')
      ? `/api/v1/messages/${m.id}/attachments/${i}` : safeUrl(a.url);
    if (!url) return el('span', { class: 'att' }, '📎 ' + (a.name || a.mime_type || 'attachment'));
    if ((a.mime_type || '').startsWith('image/') || m.kind === 'image' || m.kind === 'sticker') {
      return el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'att-img' }, el('img', { src: url, alt: a.name || 'image', loading: 'lazy' }));
    }
    return el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'att' }, '📎 ' + (a.name || 'file'), a.size ? el('span', { class: 'muted' }, ` ${Math.ceil(a.size / 1024)} KB`) : null);
  });
  const loc = m.location ? el('a', { class: 'att', target: '_blank', rel: 'noopener noreferrer',
    href: `https://www.openstreetmap.org/?mlat=${Number(m.location.latitude)}&mlon=${Number(m.location.longitude)}` }, '📍 ' + (m.location.name || m.location.address || 'Location')) : null;
  const st = dir === 'out' ? el('span', { class: 'mstatus st-' + m.status, title: m.status, 'aria-label': 'status ' + m.status },
    STATUS_MARK[m.status] || '', ' ', m.status) : null;
  const failure = m.status === 'failed' && m.error ? el('div', { class: 'mfail', role: 'note' }, 'Not delivered: ', m.error.message || m.error.code) : null;
  // reply buttons sent with it, a platform template, a customer's tap
  const btns = Array.isArray(m.buttons) && m.buttons.length ? el('div', { class: 'mbuttons' },
    m.buttons.map((b) => el('span', { class: 'chip', title: 'button id: ' + b.id }, b.title))) : null;
  const tpl = m.template && m.template.name ? el('div', { class: 'mnote' }, 'Template ', el('code', {}, m.template.name)) : null;
  const tap = m.payload ? el('div', { class: 'mnote' }, 'Tapped a button') : null;
  const tag = m.tag ? el('div', { class: 'mnote' }, 'Tag ', el('code', {}, m.tag)) : null;
  return el('li', { class: 'msg ' + dir, 'data-id': m.id },
    el('div', { class: 'bubble' },
      tpl, tap, m.text ? el('div', { class: 'mtext' }, m.text) : null, atts, loc, btns, tag,
      !m.text && !atts.length && !loc ? el('div', { class: 'mtext muted' }, `[${m.kind}]`) : null),
    el('div', { class: 'mmeta' }, el('span', {}, who), el('time', { datetime: m.created_at, title: fullTime(m.created_at) }, clock(m.created_at)), st),
    failure);
}

function composer(s) {
  const open = s.status !== 'closed' && s.status !== 'archived';
  if (!open) return el('div', { class: 'composer closed' }, 'This conversation is closed. Reopen it to reply.');
  const ch = channelOf(s.channel) || {};
  const ta = el('textarea', { rows: 2, placeholder: 'Write a reply… (Enter sends, Shift+Enter adds a line)', 'aria-label': 'Reply' });
  const err = el('span', { class: 'form-error', role: 'alert' });
  const btn = el('button', { class: 'btn primary', type: 'submit' }, 'Send');
  // Messenger: an agent's reply after the 24-hour window, up to 7 days
  const tagBox = ch.tag_window_ms ? el('input', { type: 'checkbox', 'aria-label': 'Send with the HUMAN_AGENT tag' }) : null;
  const tagLabel = tagBox ? el('label', { class: 'tagopt', title: `allowed up to ${Math.round(ch.tag_window_ms / 86400000)} days after the customer's last message` },
    tagBox, ' Human agent tag') : null;
  // a file goes up first (POST /uploads, checked against the channel's
  // limits), then rides the next reply as {upload_id}
  let upload = null;
  let uploading = null; // the upload under way: a reply sent meanwhile waits for it
  const chip = el('span', { class: 'att-chip muted small' });
  const file = el('input', { type: 'file', class: 'visually-hidden', 'aria-label': 'Attach a file' });
  const attach = el('button', { class: 'btn ghost', type: 'button', onclick: () => file.click() }, 'Attach');
  file.addEventListener('change', async () => {
    const f = file.files && file.files[0];
    file.value = '';
    if (!f) return;
    const fd = new FormData();
    fd.append('channel', s.channel);
    fd.append('file', f, f.name);
    attach.disabled = btn.disabled = true; err.textContent = ''; chip.textContent = 'Uploading ' + f.name + '…';
    uploading = (async () => {
      try {
        upload = await api('POST', '/uploads', fd);
        chip.textContent = '📎 ' + upload.name;
      } catch (e) { upload = null; chip.textContent = ''; err.textContent = e.message; }
      attach.disabled = btn.disabled = false;
      uploading = null;
    })();
  });
  const send = async () => {
    // Enter while the file still goes up: the reply waits and carries it
    // (and is not sent if the upload failed: its error stays in view)
    if (uploading) {
      await uploading;
      if (!upload) return;
    }
    const text = ta.value;
    if (!text.trim() && !upload) return;
    btn.disabled = true; err.textContent = '';
    try {
      const body = upload ? { attachments: [{ upload_id: upload.id }] } : {};
      if (text.trim()) body.text = text;
      if (tagBox && tagBox.checked) body.tag = 'HUMAN_AGENT';
      const m = await api('POST', `/sessions/${s.id}/messages`, body);
      ta.value = '';
      upload = null; chip.textContent = '';
      upsertMessage(m);
    } catch (e) { err.textContent = e.message; }
    btn.disabled = false;
    ta.focus();
  };
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  const closed = s.window_expires_at && Date.parse(s.window_expires_at) <= Date.now();
  const hint = closed ? el('div', { class: 'mnote', role: 'note' }, ch.templates
    ? 'The customer has not written for 24 hours: only a template can be sent now.'
    : ch.tag_window_ms ? 'The customer has not written for 24 hours: tick the human agent tag to answer (up to 7 days).'
      : 'The platform\'s reply window is closed.') : null;
  const tplBtn = ch.templates ? el('button', { class: 'btn', type: 'button', onclick: () => templatePanel(s, ch, form, err) }, 'Template…') : null;
  const form = el('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); send(); } }, hint, ta,
    el('div', { class: 'composer-bar' }, file, attach, chip, err, tagLabel, tplBtn, btn));
  return form;
}

// The placeholders of a template text: {{1}}... or {{name}}..., in order, once each.
function placeholders(text) {
  const out = [];
  for (const m of String(text || '').matchAll(/\{\{([^{}]+)\}\}/g)) if (!out.includes(m[1])) out.push(m[1]);
  return out;
}

// A chooser of channel chId's approved templates (WhatsApp) with an input
// per body parameter and a preview: {node, value()}, value() being the
// request's "template", or null while none is chosen. Throws when the list
// cannot be had.
async function templateChooser(chId, noneLabel) {
  const list = (await api('GET', `/channels/${chId}/templates`)).items || [];
  const sel = el('select', { 'aria-label': 'Template' }, el('option', { value: '' }, noneLabel),
    list.map((t, i) => el('option', { value: String(i) }, `${t.name} (${t.language})`)));
  const params = el('div', { class: 'tplparams' });
  const preview = el('div', { class: 'tplpreview muted' });
  const body = (t) => ((t.components || []).find((c) => String(c.type).toUpperCase() === 'BODY') || {}).text || '';
  const inputs = [];
  const update = () => {
    const t = list[Number(sel.value)];
    let text = t && sel.value !== '' ? body(t) : '';
    for (const [name, input] of inputs) text = text.split(`{{${name}}}`).join(input.value || `{{${name}}}`);
    preview.textContent = text;
  };
  sel.addEventListener('change', () => {
    inputs.length = 0;
    const t = sel.value === '' ? null : list[Number(sel.value)];
    fill(params, t ? placeholders(body(t)).map((name) => {
      const input = el('input', { type: 'text', 'aria-label': `Parameter ${name}`, placeholder: `{{${name}}}` });
      input.addEventListener('input', update);
      inputs.push([name, input]);
      return input;
    }) : null);
    update();
  });
  const value = () => {
    const t = sel.value === '' ? null : list[Number(sel.value)];
    if (!t) return null;
    const named = t.parameter_format === 'NAMED';
    const parameters = inputs.map(([name, input]) => (named ? { type: 'text', parameter_name: name, text: input.value } : { type: 'text', text: input.value }));
    const template = { name: t.name, language: t.language };
    if (parameters.length) template.components = [{ type: 'body', parameters }];
    return template;
  };
  return { node: [sel, params, preview], value, sel };
}

// Picks one of the channel's approved templates (WhatsApp), fills its body's
// parameters and sends it: what the platform takes after its window.
async function templatePanel(s, ch, form, err) {
  const old = form.querySelector('.tplpanel');
  if (old) { old.remove(); return; }
  let chooser;
  try { chooser = await templateChooser(ch.id, 'Choose a template…'); } catch (e) { err.textContent = e.message; return; }
  const sendBtn = el('button', { class: 'btn primary', type: 'button', onclick: async () => {
    const template = chooser.value();
    if (!template) return;
    sendBtn.disabled = true; err.textContent = '';
    try {
      upsertMessage(await api('POST', `/sessions/${s.id}/messages`, { template }));
      panel.remove();
    } catch (e) { err.textContent = e.message; }
    sendBtn.disabled = false;
  } }, 'Send template');
  const panel = el('div', { class: 'tplpanel' }, chooser.node, el('div', { class: 'composer-bar' }, sendBtn));
  form.insertBefore(panel, form.firstChild);
  chooser.sel.focus();
}

function renderDetails(s) {
  const c = s.contact || {};
  const row = (k, v) => v ? [el('dt', {}, k), el('dd', {}, v)] : null;
  const editable = isManager() && c.id;
  const contact = el('section', { class: 'card-s' }, el('h3', {}, 'Contact'),
    el('div', { class: 'contact-top' }, el('span', { class: 'avatar lg', style: { '--h': hue(contactName(s)) } }, initials(contactName(s))),
      el('div', {}, el('strong', {}, contactName(s)), el('div', { class: 'muted small' }, c.username ? '@' + c.username : c.external_id || ''))),
    el('dl', {}, row('Channel', s.channel), row('Phone', c.phone), row('E-mail', c.email), row('Customer ID', c.external_id)),
    editable ? el('button', { class: 'btn sm', type: 'button', onclick: () => editContact(s) }, 'Edit contact') : null,
    channelOf(s.channel) && channelOf(s.channel).start_outbound && !['new', 'active', 'awaiting', 'transferred'].includes(s.status)
      ? el('button', { class: 'btn sm', type: 'button', onclick: () => newConversation(s) }, 'New conversation') : null);
  const facts = el('section', { class: 'card-s' }, el('h3', {}, 'Conversation'),
    el('dl', {}, row('Status', STATUS_LABEL[s.status] || s.status), row('Agent', agentName(s.agent_id) || 'Nobody yet'),
      row('Group', s.group), row('Level', s.level), row('Created', fullTime(s.created_at)),
      row('First reply', s.first_reply_at ? fullTime(s.first_reply_at) : 'Not yet'),
      row('Transferred from', s.transferred_from ? agentName(s.transferred_from) : null),
      row('Transfer comment', s.transferred_comment),
      row('Closed', s.closed_at ? fullTime(s.closed_at) : null),
      row('Close reason', s.close_reason ? REASON_LABEL[s.close_reason] || s.close_reason : null),
      row('Success codes', (s.success_codes || []).join(', ')),
      row('Reply window ends', s.window_expires_at ? fullTime(s.window_expires_at) : null)));
  fill(R.details, el('button', { class: 'btn ghost sm close-details', type: 'button', onclick: () => { S.details = false; R.shell.dataset.details = ''; } }, 'Close details'), contact, facts);
}

function channelOf(id) { return S.meta.channels.find((c) => c.id === id); }

// --------------------------------------------------------------- actions

async function act(label, fn) {
  try { await fn(); } catch (e) { toast(`${label}: ${e.message}`, 'error'); }
}

function take(s) {
  return act('Take', async () => {
    const r = await api('POST', `/sessions/${s.id}/assign`);
    upsertSession(r);
    toast('The conversation is yours.');
    refreshCounts();
  });
}

function reopen(s) {
  return act('Reopen', async () => { upsertSession(await api('POST', `/sessions/${s.id}/reopen`)); toast('Reopened: back in the queue.'); });
}

async function transfer(s) {
  try { S.meta = await api('GET', '/meta'); } catch (_) { /* offer what we know */ }
  const others = S.meta.agents.filter((a) => !S.me || a.id !== S.me.id);
  const toAgent = el('select', { name: 'agent_id' }, el('option', { value: '' }, 'Choose an agent'),
    others.map((a) => el('option', { value: a.id }, `${a.name || a.id} · ${a.presence}`)));
  const toGroup = el('select', { name: 'group' }, el('option', { value: '' }, 'Choose a group'), S.meta.groups.map((g) => el('option', { value: g }, g)));
  const comment = el('textarea', { name: 'comment', rows: 3, maxlength: 2000, placeholder: 'What should they know?' });
  dialog({
    title: 'Transfer the conversation', submit: 'Transfer',
    body: [field('To an agent', toAgent), field('Or to a group', toGroup), field('Comment', comment)],
    onsubmit: async () => {
      if (!toAgent.value === !toGroup.value) throw new Error('Choose either an agent or a group.');
      const body = { comment: comment.value || undefined };
      if (toAgent.value) body.agent_id = toAgent.value; else body.group = toGroup.value;
      const r = await api('POST', `/sessions/${s.id}/transfer`, body);
      upsertSession(r);
      toast('Transferred.');
      refreshCounts();
    },
  });
}

function closeSession(s) {
  const rules = S.meta.close;
  const reasons = rules.reasons.map((r, i) => el('label', { class: 'choice' },
    el('input', { type: 'radio', name: 'reason', value: r, checked: i === 0 }), REASON_LABEL[r] || r));
  let codes;
  if (rules.success_codes.length) {
    const type = rules.allow_multiple_codes ? 'checkbox' : 'radio';
    codes = el('div', { class: 'choices' }, rules.success_codes.map((c) => el('label', { class: 'choice' }, el('input', { type, name: 'code', value: c }), c)));
  } else {
    codes = el('input', { name: 'codes', placeholder: rules.allow_multiple_codes ? 'e.g. sale, support' : 'e.g. sale' });
  }
  dialog({
    title: 'Close the conversation', submit: 'Close conversation',
    body: [el('fieldset', {}, el('legend', {}, 'Reason'), reasons),
      el('fieldset', {}, el('legend', {}, 'Success code' + (rules.allow_multiple_codes ? 's' : '') + (rules.require_success_code ? ' (required)' : ' (optional)')), codes)],
    onsubmit: async (form) => {
      const reason = form.querySelector('input[name=reason]:checked').value;
      let list = rules.success_codes.length ? [...form.querySelectorAll('input[name=code]:checked')].map((i) => i.value)
        : codes.value.split(',').map((x) => x.trim()).filter(Boolean);
      if (rules.require_success_code && !list.length) throw new Error('Choose a success code: this inbox requires one.');
      if (!rules.allow_multiple_codes && list.length > 1) throw new Error('Only one success code is allowed.');
      const r = await api('POST', `/sessions/${s.id}/close`, { reason, success_codes: list });
      upsertSession(r);
      toast('Closed.');
      refreshCounts();
    },
  });
}

function editContact(s) {
  const c = s.contact;
  const name = el('input', { name: 'name', value: c.name || '' });
  const email = el('input', { name: 'email', type: 'email', value: c.email || '' });
  const phone = el('input', { name: 'phone', type: 'tel', value: c.phone || '' });
  dialog({
    title: 'Edit contact', submit: 'Save',
    body: [field('Name', name), field('E-mail', email), field('Phone', phone)],
    onsubmit: async () => {
      const v = (x) => (x.value.trim() ? x.value.trim() : null);
      const r = await api('PATCH', `/contacts/${c.id}`, { name: v(name), email: v(email), phone: v(phone) });
      const cur = S.sessions.get(s.id);
      S.sessions.set(s.id, { ...cur, contact: r.contact || r });
      renderConversation();
      toast('Contact saved.');
    },
  });
}

function newConversation(from) {
  const chans = S.meta.channels.filter((c) => c.start_outbound);
  const ch = el('select', { name: 'channel' }, chans.map((c) => el('option', { value: c.id, selected: from && from.channel === c.id }, c.id)));
  const ext = el('input', { name: 'external_id', placeholder: 'the customer\'s id on that channel', value: from ? '' : '' });
  const text = el('textarea', { name: 'text', rows: 4 });
  // WhatsApp: a conversation the business starts is a template
  const tplBox = el('div', { class: 'tplpanel', hidden: true });
  let chooser = null;
  const refresh = async () => {
    const c = chans.find((x) => x.id === ch.value);
    chooser = null;
    fill(tplBox);
    tplBox.hidden = !(c && c.templates);
    if (c && c.templates) {
      try { chooser = await templateChooser(c.id, '— no template: the message below —'); fill(tplBox, chooser.node); } catch (e) { fill(tplBox, el('span', { class: 'form-error' }, e.message)); }
    }
  };
  ch.addEventListener('change', refresh);
  refresh();
  dialog({
    title: from ? `New conversation with ${contactName(from)}` : 'Start a conversation', submit: 'Send',
    body: [field('Channel', ch), from ? null : field('Customer', ext), tplBox, field('Message', text)],
    onsubmit: async () => {
      const template = chooser && chooser.value();
      if (!template && !text.value.trim()) throw new Error('Write a message or choose a template.');
      const body = template ? { channel: ch.value, template } : { channel: ch.value, text: text.value };
      if (from) body.contact_id = from.contact.id; else body.external_id = ext.value.trim();
      const r = await api('POST', '/sessions', body);
      upsertSession(r.session);
      location.hash = '#/s/' + r.session.id;
    },
  });
}

async function setPresence(e) {
  const p = e.target.value;
  await act('Status', async () => {
    await api('PUT', `/agents/${S.me.id}/presence`, { status: p });
    S.me.presence = p;
    R.top.querySelector('.dot').dataset.p = p;
    toast(`You are ${p}.`);
  });
}

async function signOut() {
  try { await api('POST', '/auth/logout'); } catch (_) { /* signed out anyway */ }
  S.current = null;
  history.replaceState(null, '', location.pathname);
  showSignIn('You are signed out.');
}

function toggleSound() {
  S.sound = !S.sound;
  localStorage.setItem('og.sound', S.sound ? '1' : '0');
  R.soundBtn.textContent = S.sound ? 'Sound on' : 'Sound off';
  R.soundBtn.setAttribute('aria-pressed', S.sound ? 'true' : 'false');
  if (S.sound) beep();
}

let audio;
function beep() {
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.08, audio.currentTime);
    g.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
    o.connect(g).connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.25);
  } catch (_) { /* no audio */ }
}

// ------------------------------------------------------------ live events

function onEvent(type, d) {
  const s = d.session;
  if (s && s.id) upsertSession(s, type);
  if (type.startsWith('message.') && d.message) {
    if (s && s.id === S.current) {
      upsertMessage(d.message);
      if (type === 'message.received' && !document.hidden) api('GET', `/sessions/${s.id}/messages?limit=1`).catch(() => {});
    } else if (type === 'message.received' && s && S.sessions.has(s.id)) {
      const cur = S.sessions.get(s.id);
      cur.unread = (cur.unread || 0) + 1;
      if (S.list.includes(s.id)) renderListPane();
    }
  }
  if (type === 'session.created' || (type === 'message.received' && s && (!s.agent_id || (S.me && s.agent_id === S.me.id)))) {
    announce(type === 'session.created' ? `New conversation: ${contactName(s)}` : `New message: ${contactName(s)}`);
  }
  scheduleRefresh();
}

function announce(text) {
  if (document.hidden) { S.alert = text; updateTitle(); }
  if (S.sound) beep();
}

function upsertSession(s, type) {
  const old = S.sessions.get(s.id);
  S.sessions.set(s.id, { ...old, ...s, unread: old ? old.unread : s.unread });
  const inList = S.list.includes(s.id);
  const fits = ['queue', 'mine', 'all', 'closed'].includes(S.view) && belongs(s, S.view) && !S.filters.q && !activeFilters();
  if (fits && !inList) S.list = sortList([s.id, ...S.list]);
  else if (!fits && inList && belongs(s, S.view) === false) S.list = S.list.filter((x) => x !== s.id);
  else if (inList) S.list = sortList(S.list);
  if (R.listpane && R.shell.dataset.mode === 'inbox') renderListPane();
  if (S.view === 'queue' && !activeFilters() && !S.filters.q && S.counts.queue !== S.list.length) {
    S.counts.queue = S.list.length;
    renderNav();
  }
  if (s.id === S.current && type !== 'message.received') {
    R.conv.replaceChild(convHead(S.sessions.get(s.id)), R.conv.firstChild);
    renderDetails(S.sessions.get(s.id));
    const comp = R.conv.lastChild;
    const wantOpen = s.status !== 'closed' && s.status !== 'archived';
    if (comp && comp.classList.contains('closed') === wantOpen) R.conv.replaceChild(composer(S.sessions.get(s.id)), comp);
  }
}

// Delivery statuses only move forward (an event may overtake the answer
// to our own POST); failed is final.
const RANK = { pending: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

function upsertMessage(m) {
  if (!m || m.session_id !== S.current) return;
  const i = S.messages.findIndex((x) => x.id === m.id);
  if (i >= 0) {
    if ((RANK[m.status] || 0) < (RANK[S.messages[i].status] || 0)) return;
    S.messages[i] = m;
    const li = R.thread && R.thread.querySelector(`li[data-id="${CSS.escape(m.id)}"]`);
    if (li) li.replaceWith(messageItem(m));
    return;
  }
  S.messages.push(m);
  S.messages.sort((a, b) => (a.id < b.id ? -1 : 1));
  if (!R.thread) return;
  const wrap = R.thread.parentNode;
  const atBottom = wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 80;
  fill(R.thread, threadItems());
  if (atBottom || m.direction === 'out') wrap.scrollTop = wrap.scrollHeight;
}

let refreshTimer = null;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    if (R.shell.dataset.mode === 'inbox') loadList(); else refreshCounts();
  }, 700);
}

function tick() {
  if (S.view === 'queue' && R.shell.dataset.mode === 'inbox') renderListPane(); // waiting times move on
}

function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

start();
