// stats.js - the Statistics and Exports pages (docs/statistics.md): the
// figures of GET /api/v1/stats with their filters, drawn by the page itself
// as SVG (bars per day or hour, proactive vs reactive, success codes) and a
// table per agent; the CSV downloads and the permanent report links.
// Text only through el() / textContent; SVG through setAttribute.
import { qs } from './api.js';

const NS = 'http://www.w3.org/2000/svg';
const REPORTS = {
  conversations: 'Conversations', agent_performance: 'Agent performance',
  agent_activity: 'Agent activity', traffic: 'Traffic', agents: 'Agents',
};

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const today = () => new Date().toLocaleDateString('en-CA'); // YYYY-MM-DD, local
const daysAgo = (n) => { const d = new Date(); d.setDate(d.getDate() - n); return d.toLocaleDateString('en-CA'); };
const zone = () => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch (_) { return 'UTC'; } };

// Seconds as "1 h 05 min", "3 min 20 s", "45 s"; "—" for none.
export function dur(s) {
  if (s === null || s === undefined) return '—';
  s = Math.round(s);
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${s} s`;
}
const pct = (n, of) => (of ? Math.round((100 * n) / of) + '%' : '—');

// The period and filters form, shared by both pages; calls go(query) on submit.
function filterForm(ctx, state, go, opts = {}) {
  const { el, field, S } = ctx;
  const f = {
    from: el('input', { type: 'date', name: 'from', required: true, value: state.from }),
    to: el('input', { type: 'date', name: 'to', required: true, value: state.to }),
    tz: el('input', { name: 'tz', value: state.tz, size: 16 }),
    group_by: el('select', { name: 'group_by' }, [['day', 'By day'], ['hour', 'By hour']].map(([v, l]) =>
      el('option', { value: v, selected: state.group_by === v }, l))),
    channel: el('select', { name: 'channel' }, el('option', { value: '' }, 'All channels'),
      (S.meta ? S.meta.channels : []).map((c) => el('option', { value: c.id, selected: state.channel === c.id }, c.name || c.id))),
    agent_id: el('select', { name: 'agent_id' }, el('option', { value: '' }, 'All agents'),
      (state.agents || []).map((a) => el('option', { value: a.id, selected: state.agent_id === a.id }, a.name || a.email))),
    group: el('input', { name: 'group', value: state.group || '', size: 10, placeholder: 'any' }),
    success_code: el('input', { name: 'success_code', value: state.success_code || '', size: 10, placeholder: 'any' }),
  };
  const manager = S.role === 'manager' || S.role === 'admin';
  return el('form', { class: 'statsform', onsubmit: (e) => {
    e.preventDefault();
    for (const k of Object.keys(f)) state[k] = f[k].value.trim();
    go();
  } },
  field('From', f.from), field('To', f.to), field('Time zone', f.tz),
  opts.noGroupBy ? null : field('Buckets', f.group_by),
  field('Channel', f.channel), manager ? field('Agent', f.agent_id) : null,
  field('Group', f.group), field('Success code', f.success_code),
  el('button', { class: 'btn primary', type: 'submit' }, opts.submit || 'Show'));
}

function query(state, extra) {
  return qs({ from: state.from, to: state.to, tz: state.tz, channel: state.channel, agent_id: state.agent_id,
    group: state.group, success_code: state.success_code, ...extra });
}

// Bars per bucket: chats (and messages in as a thin line of dots).
function barChart(buckets, key, label) {
  const W = 720, H = 200, pad = 28;
  const max = Math.max(1, ...buckets.map((b) => b[key]));
  const bw = (W - pad) / Math.max(1, buckets.length);
  const bars = buckets.map((b, i) => {
    const h = ((H - 30) * b[key]) / max;
    return svg('rect', { class: 'bar', x: (pad + i * bw + bw * 0.15).toFixed(1), y: (H - 20 - h).toFixed(1),
      width: Math.max(1, bw * 0.7).toFixed(1), height: h.toFixed(1), 'data-key': b.key, 'data-v': b[key] },
    svg('title', {}, `${b.key}: ${b[key]} ${label}`));
  });
  const every = Math.max(1, Math.ceil(buckets.length / 12));
  const ticks = buckets.map((b, i) => (i % every ? null
    : svg('text', { class: 'tick', x: (pad + i * bw + bw / 2).toFixed(1), y: H - 5, 'text-anchor': 'middle' },
      b.key.length > 10 ? b.key.slice(11) + 'h' : b.key.slice(5))));
  return svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${label} per bucket` },
    svg('text', { class: 'tick', x: 2, y: 12 }, String(max)),
    svg('line', { class: 'axis', x1: pad, y1: H - 20, x2: W, y2: H - 20 }), bars, ticks);
}

// The queue per bucket: the average number of sessions waiting as bars, the
// most waiting at once as dots (absent under a filter: not kept per channel,
// agent or group).
function queueChart(buckets) {
  const W = 720, H = 200, pad = 28;
  const max = Math.max(1, ...buckets.map((b) => Math.max(b.queue_avg || 0, b.queue_max || 0)));
  const bw = (W - pad) / Math.max(1, buckets.length);
  const y = (v) => (H - 20 - ((H - 30) * v) / max).toFixed(1);
  const marks = buckets.map((b, i) => {
    const avg = b.queue_avg || 0, x = pad + i * bw;
    const bar = svg('rect', { class: 'bar queue', x: (x + bw * 0.15).toFixed(1), y: y(avg),
      width: Math.max(1, bw * 0.7).toFixed(1), height: (H - 20 - y(avg)).toFixed(1), 'data-key': b.key, 'data-v': avg },
    svg('title', {}, `${b.key}: ${avg} waiting on average, longest wait ${dur(b.longest_wait_s)}`));
    const dot = b.queue_max === null || b.queue_max === undefined ? null
      : svg('circle', { class: 'qmax', cx: (x + bw / 2).toFixed(1), cy: y(b.queue_max), r: Math.min(4, Math.max(1.5, bw / 3)).toFixed(1),
        'data-key': b.key, 'data-v': b.queue_max }, svg('title', {}, `${b.key}: at most ${b.queue_max} waiting at once`));
    return [bar, dot];
  });
  const every = Math.max(1, Math.ceil(buckets.length / 12));
  const ticks = buckets.map((b, i) => (i % every ? null
    : svg('text', { class: 'tick', x: (pad + i * bw + bw / 2).toFixed(1), y: H - 5, 'text-anchor': 'middle' },
      b.key.length > 10 ? b.key.slice(11) + 'h' : b.key.slice(5))));
  return svg('svg', { class: 'chart queue', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': 'Sessions waiting per bucket: average (bars) and most at once (dots)' },
  svg('text', { class: 'tick', x: 2, y: 12 }, String(max)),
  svg('line', { class: 'axis', x1: pad, y1: H - 20, x2: W, y2: H - 20 }), marks, ticks);
}

// One horizontal bar split in parts: [{label, value, cls}].
function splitBar(parts) {
  const W = 720, total = parts.reduce((a, p) => a + p.value, 0);
  let x = 0;
  return svg('svg', { class: 'chart split', viewBox: `0 0 ${W} 34`, role: 'img',
    'aria-label': parts.map((p) => `${p.label} ${pct(p.value, total)}`).join(', ') },
  parts.map((p) => {
    const w = total ? (W * p.value) / total : 0;
    const r = svg('rect', { class: 'part ' + p.cls, x: x.toFixed(1), y: 4, width: w.toFixed(1), height: 26 },
      svg('title', {}, `${p.label}: ${p.value} (${pct(p.value, total)})`));
    const t = w > 90 ? svg('text', { class: 'partlabel', x: (x + 8).toFixed(1), y: 22 }, `${p.label} ${pct(p.value, total)}`) : null;
    x += w;
    return [r, t];
  }));
}

// Success codes as horizontal bars with count and share of chats.
function codeBars(codes, chats) {
  const entries = Object.entries(codes).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return null;
  const W = 720, row = 24, max = Math.max(...entries.map((e) => e[1]));
  return svg('svg', { class: 'chart codes', viewBox: `0 0 ${W} ${entries.length * row + 4}`, role: 'img',
    'aria-label': 'Success codes per chat' },
  entries.map(([code, n], i) => [
    svg('text', { class: 'tick', x: 0, y: i * row + 16 }, code),
    svg('rect', { class: 'bar code', x: 160, y: i * row + 4, width: ((W - 300) * n / max).toFixed(1), height: 16, 'data-code': code }),
    svg('text', { class: 'tick', x: 170 + (W - 300) * n / max, y: i * row + 16 }, `${n} (${pct(n, chats)})`),
  ]));
}

function kpis(el, t) {
  const card = (label, value, title) => el('div', { class: 'kpi', title: title || null },
    el('div', { class: 'kpiv' }, value), el('div', { class: 'muted small' }, label));
  return el('div', { class: 'kpis' },
    card('Chats', String(t.chats)),
    card('Proactive', pct(t.proactive, t.chats), `${t.proactive} started by an agent`),
    card('Missed', String(t.missed)),
    card('Messages in / out', `${t.messages_in} / ${t.messages_out}`),
    card('Avg. duration', dur(t.avg_duration_s)),
    card('Avg. first response', dur(t.avg_first_response_s)),
    card('Avg. response (p90)', `${dur(t.avg_response_s)} (${dur(t.p90_response_s)})`),
    card('Avg. resolution', dur(t.avg_resolution_s)),
    card('Satisfaction', t.csat.count ? `${t.csat.avg} / 5 (${t.csat.count})` : '—'),
    card('Goals achieved', t.goals.closed ? `${pct(t.goals.achieved, t.goals.closed)} (${t.goals.achieved}/${t.goals.closed})` : '—'),
    card('Transfers', String(t.transfers + t.auto_forwards), `${t.auto_forwards} automatic`),
    card('Queue avg. / most', `${t.queue_avg === null ? '—' : t.queue_avg} / ${t.queue_max === null ? '—' : t.queue_max}`,
      'sessions waiting on average over the period, and the most at once'),
    card('Longest wait', dur(t.longest_wait_s)));
}

function table(el, heads, rows) {
  return el('div', { class: 'table-wrap' }, el('table', {},
    el('thead', {}, el('tr', {}, heads.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows)));
}

const hours = (s) => (s === undefined ? '—' : (s / 3600).toFixed(1) + ' h');

async function agentsOf(ctx) {
  const { api, S } = ctx;
  if (S.role !== 'manager' && S.role !== 'admin') return [];
  try { return (await api('GET', '/agents')).items; } catch (_) { return []; }
}

const statsState = { from: daysAgo(6), to: today(), tz: zone(), group_by: 'day' };

export async function renderStats(root, ctx) {
  const { api, el, fill } = ctx;
  statsState.agents = statsState.agents || await agentsOf(ctx);
  const out = el('div', { class: 'statsout' }, el('p', { class: 'muted' }, 'Loading…'));
  const go = async () => {
    fill(out, el('p', { class: 'muted' }, 'Loading…'));
    let s, per;
    try {
      [s, per] = await Promise.all([
        api('GET', '/stats' + query(statsState, { group_by: statsState.group_by })),
        api('GET', '/stats' + query(statsState, { group_by: 'agent' })),
      ]);
    } catch (e) { fill(out, el('p', { class: 'error', role: 'alert' }, e.message)); return; }
    const t = s.total;
    const me = ctx.S.me;
    const name = (id) => {
      const a = statsState.agents.find((x) => x.id === id) || (me && me.id === id ? me : null);
      return a ? a.name || a.email : id;
    };
    fill(out, kpis(el, t),
      el('h3', {}, statsState.group_by === 'hour' ? 'Chats per hour' : 'Chats per day'),
      el('div', { class: 'card chartcard' }, barChart(s.buckets, 'chats', 'chats')),
      el('h3', {}, 'Messages in per ' + statsState.group_by),
      el('div', { class: 'card chartcard' }, barChart(s.buckets, 'messages_in', 'messages in')),
      el('h3', {}, 'Queue: sessions waiting (average, and most at once)'),
      el('div', { class: 'card chartcard' }, queueChart(s.buckets),
        el('p', { class: 'muted small' }, 'Bars: the average number waiting; dots: the most waiting at once. Hover a bar for the longest wait.')),
      el('h3', {}, 'Longest wait per ' + statsState.group_by + ' (seconds)'),
      el('div', { class: 'card chartcard' }, barChart(s.buckets, 'longest_wait_s', 's longest wait')),
      el('h3', {}, 'Proactive and reactive chats'),
      el('div', { class: 'card chartcard' }, splitBar([
        { label: 'Reactive', value: t.reactive, cls: 'reactive' },
        { label: 'Proactive', value: t.proactive, cls: 'proactive' }])),
      el('h3', {}, 'Success codes'),
      el('div', { class: 'card chartcard' }, codeBars(t.success_codes, t.chats) || el('p', { class: 'muted' }, 'No success codes in this period.')),
      el('h3', {}, 'Per agent'),
      table(el, ['Agent', 'Chats', 'Avg. first response', 'Avg. response', 'Avg. duration', 'Online', 'Away', 'Offline', 'Satisfaction', 'Goals'],
        per.buckets.map((b) => el('tr', { 'data-agent': b.key },
          el('td', {}, name(b.key)), el('td', {}, String(b.chats)), el('td', {}, dur(b.avg_first_response_s)),
          el('td', {}, dur(b.avg_response_s)), el('td', {}, dur(b.avg_duration_s)),
          el('td', {}, hours(b.online_s)), el('td', {}, hours(b.away_s)), el('td', {}, hours(b.offline_s)),
          el('td', {}, b.csat.count ? `${b.csat.avg} (${b.csat.count})` : '—'),
          el('td', {}, b.goals.closed ? `${b.goals.achieved}/${b.goals.closed}` : '—')))),
      el('p', { class: 'muted small' }, `${s.from} to ${s.to}, ${s.tz}. Chats are closed conversations; see the documentation for what each figure counts.`));
  };
  fill(root, el('div', { class: 'pagehead' }, el('h2', {}, 'Statistics')),
    filterForm(ctx, statsState, go), out);
  go();
}

const exportState = { from: daysAgo(6), to: today(), tz: zone() };

export async function renderExports(root, ctx) {
  const { api, el, fill, dialog, field, toast } = ctx;
  exportState.agents = exportState.agents || await agentsOf(ctx);
  const downloads = el('div', { class: 'downloads' });
  const drawDownloads = () => fill(downloads, Object.entries(REPORTS).map(([r, label]) =>
    el('a', { class: 'btn', href: '/api/v1/exports/' + r + query(exportState), download: `${r}_${exportState.from}_${exportState.to}.csv`,
      'data-report': r }, '⬇ ' + label)));
  drawDownloads();
  const links = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const drawLinks = async () => {
    let items;
    try { items = (await api('GET', '/report-links')).items; } catch (e) { fill(links, el('p', { class: 'error' }, e.message)); return; }
    if (!items.length) { fill(links, el('p', { class: 'muted' }, 'No report links yet.')); return; }
    fill(links, table(el, ['Report', 'Filters', 'Created', 'Uses', 'Last used', ''], items.map((l) => el('tr', { 'data-link': l.id },
      el('td', {}, REPORTS[l.report] || l.report),
      el('td', { class: 'mono small' }, Object.entries(l.filters).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'),
      el('td', {}, ctx.fullTime ? ctx.fullTime(l.created_at) : l.created_at), el('td', {}, String(l.uses)),
      el('td', {}, l.last_used_at ? (ctx.fullTime ? ctx.fullTime(l.last_used_at) : l.last_used_at) : '—'),
      el('td', {}, el('button', { class: 'btn sm danger', type: 'button', onclick: async () => {
        try { await api('DELETE', '/report-links/' + l.id); toast('Link revoked'); drawLinks(); } catch (e) { toast(e.message, 'error'); }
      } }, 'Revoke'))))));
  };
  const create = () => {
    const f = {
      report: el('select', { name: 'report' }, Object.entries(REPORTS).map(([v, l]) => el('option', { value: v }, l))),
      channel: el('input', { name: 'channel', placeholder: 'any' }),
      agent_id: el('input', { name: 'agent_id', placeholder: 'any' }),
      group: el('input', { name: 'group', placeholder: 'any' }),
      success_code: el('input', { name: 'success_code', placeholder: 'any' }),
    };
    dialog({ title: 'New report link', submit: 'Create',
      body: [el('p', { class: 'muted small' }, 'The link downloads this report with these filters for any period, without signing in. Keep it secret; revoke it when it is no longer needed.'),
        field('Report', f.report), field('Channel', f.channel), field('Agent id', f.agent_id), field('Group', f.group), field('Success code', f.success_code)],
      onsubmit: async () => {
        const filters = {};
        for (const k of ['channel', 'agent_id', 'group', 'success_code']) if (f[k].value.trim()) filters[k] = f[k].value.trim();
        const r = await api('POST', '/report-links', { report: f.report.value, filters });
        drawLinks();
        const url = new URL(r.url, location.href);
        url.search = qs({ from: exportState.from, to: exportState.to, tz: exportState.tz });
        const input = el('input', { readonly: true, value: url.href, class: 'mono', 'aria-label': 'Report link' });
        setTimeout(() => dialog({ title: 'Report link', submit: 'Copy and close', cancel: 'Close',
          body: [el('p', {}, 'This link is shown once. Change from, to and tz in it for other periods.'), input],
          onsubmit: async () => { try { await navigator.clipboard.writeText(input.value); } catch (_) { input.select(); } } }), 0);
      } });
  };
  fill(root, el('div', { class: 'pagehead' }, el('h2', {}, 'Exports')),
    filterForm(ctx, exportState, drawDownloads, { noGroupBy: true, submit: 'Apply' }),
    el('h3', {}, 'Download CSV'), downloads,
    el('div', { class: 'pagehead linkshead' }, el('h3', {}, 'Permanent report links'),
      el('button', { class: 'btn primary sm', type: 'button', onclick: create }, '+ New link')),
    links);
  drawLinks();
}
