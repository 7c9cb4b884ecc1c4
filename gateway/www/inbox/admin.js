// admin.js - the managers' and admins' pages: the team (presence and load,
// live), agents (create, edit, groups and limits, password links, tokens,
// sign-out everywhere) and webhooks (list, create, rotate, deliveries,
// replay). Same rules as the rest: text only through el().

const PRESENCE = { online: 'Online', away: 'Away', offline: 'Offline' };

function table(el, heads, rows) {
  return el('div', { class: 'table-wrap' }, el('table', {},
    el('thead', {}, el('tr', {}, heads.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows)));
}

function load(ms) { return (x) => (x === null || x === undefined ? '∞' : String(x)) + (ms ? '' : ''); }

export async function renderTeam(root, { api, el, fill }) {
  fill(root, el('div', { class: 'pagehead' }, el('h2', {}, 'Team')), el('p', { class: 'muted' }, 'Loading…'));
  let agents;
  try { agents = (await api('GET', '/agents')).items; } catch (e) { fill(root, el('p', { class: 'error' }, e.message)); return; }
  const cap = load();
  const online = agents.filter((a) => a.presence === 'online').length;
  fill(root, el('div', { class: 'pagehead' }, el('h2', {}, 'Team'), el('span', { class: 'muted' }, `${online} of ${agents.length} online`)),
    el('div', { class: 'team' }, agents.map((a) => el('div', { class: 'member' },
      el('span', { class: 'dot', 'data-p': a.presence }),
      el('div', {}, el('strong', {}, a.name || a.email), el('div', { class: 'muted small' }, a.role + (a.groups.length ? ' · ' + a.groups.join(', ') : ''))),
      el('div', { class: 'loadbar', title: `${a.chats} of ${cap(a.max_chats)} chats` },
        el('span', { class: 'loadfill', style: { '--w': (a.max_chats ? Math.min(100, (100 * a.chats) / a.max_chats) : Math.min(100, a.chats * 10)) + '%' } })),
      el('span', { class: 'small' }, `${a.chats} / ${cap(a.max_chats)} chats`),
      el('span', { class: 'pill p-' + a.presence }, PRESENCE[a.presence] || a.presence)))));
  clearTimeout(root._t);
  root._t = setTimeout(() => { if (location.hash === '#/team') renderTeam(root, { api, el, fill }); }, 10000);
}

function agentForm(ctx, a) {
  const { el, field } = ctx;
  const f = {
    name: el('input', { name: 'name', value: a ? a.name || '' : '' }),
    email: el('input', { name: 'email', type: 'email', required: true, value: a ? a.email : '' }),
    role: el('select', { name: 'role' }, ['agent', 'manager', 'admin'].map((r) => el('option', { value: r, selected: a ? a.role === r : r === 'agent' }, r))),
    groups: el('input', { name: 'groups', value: a ? a.groups.join(', ') : '', placeholder: 'support, sales' }),
    max_chats: el('input', { name: 'max_chats', type: 'number', min: 0, value: a && a.max_chats !== null ? a.max_chats : '', placeholder: 'unlimited' }),
    allowed_ips: el('input', { name: 'allowed_ips', value: a ? a.allowed_ips.join(', ') : '', placeholder: 'any address' }),
  };
  const body = [field('Name', f.name), field('E-mail', f.email), field('Role', f.role), field('Groups', f.groups),
    field('Simultaneous chats', f.max_chats), field('Allowed IPs / CIDRs', f.allowed_ips)];
  const value = () => {
    const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
    return { name: f.name.value.trim() || undefined, email: f.email.value.trim(), role: f.role.value,
      groups: list(f.groups.value), max_chats: f.max_chats.value === '' ? null : Number(f.max_chats.value),
      allowed_ips: list(f.allowed_ips.value) };
  };
  return { body, value };
}

function showSecret(ctx, title, label, secret, note) {
  const { el, dialog } = ctx;
  const input = el('input', { readonly: true, value: secret, class: 'mono', 'aria-label': label });
  dialog({ title, submit: 'Copy and close', cancel: 'Close',
    body: [el('p', {}, note), input],
    onsubmit: async () => { try { await navigator.clipboard.writeText(secret); } catch (_) { input.select(); } } });
}

export async function renderAgents(root, ctx) {
  const { api, el, fill, toast, dialog, field } = ctx;
  const refresh = () => renderAgents(root, ctx);
  let agents;
  try { agents = (await api('GET', '/agents')).items; } catch (e) { fill(root, el('p', { class: 'error' }, e.message)); return; }
  const create = () => {
    const form = agentForm(ctx);
    dialog({ title: 'Add an agent', submit: 'Add', body: form.body, onsubmit: async () => {
      const r = await api('POST', '/agents', form.value());
      const link = await api('POST', `/agents/${r.agent.id}/password-link`, { purpose: 'invite' });
      refresh();
      showSecret(ctx, 'Invitation link', 'Link to send', new URL(link.url, location.href).href,
        'Send this link to the new agent: it sets their password once and expires in 72 hours.');
    } });
  };
  const actions = (a) => el('div', { class: 'rowbtns' },
    el('button', { class: 'btn sm', type: 'button', onclick: () => {
      const form = agentForm(ctx, a);
      dialog({ title: `Edit ${a.name || a.email}`, submit: 'Save', body: form.body, onsubmit: async () => {
        await api('PATCH', `/agents/${a.id}`, form.value()); toast('Saved.'); refresh();
      } });
    } }, 'Edit'),
    el('button', { class: 'btn sm', type: 'button', onclick: async () => {
      try {
        const link = await api('POST', `/agents/${a.id}/password-link`, { purpose: a.has_password ? 'reset' : 'invite' });
        showSecret(ctx, 'Password link', 'Link to send', new URL(link.url, location.href).href,
          `Send this link to ${a.name || a.email}. It sets a new password once and expires ${new Date(link.expires_at).toLocaleString()}.`);
      } catch (e) { toast(e.message, 'error'); }
    } }, a.has_password ? 'Reset password' : 'Invite'),
    el('button', { class: 'btn sm', type: 'button', onclick: () => {
      const pw = el('input', { type: 'password', autocomplete: 'new-password', minlength: 10 });
      dialog({ title: `Set a password for ${a.name || a.email}`, submit: 'Set password', body: [field('New password (10+ characters)', pw)],
        onsubmit: async () => { const r = await api('PUT', `/agents/${a.id}/password`, { password: pw.value }); toast(`Password set; ${r.sessions_revoked} session(s) signed out.`); refresh(); } });
    } }, 'Set password'),
    el('button', { class: 'btn sm', type: 'button', onclick: async () => {
      try { const r = await api('DELETE', `/agents/${a.id}/sessions`); toast(`${r.sessions_revoked} session(s) signed out.`); } catch (e) { toast(e.message, 'error'); }
    } }, 'Sign out everywhere'),
    a.has_token ? el('button', { class: 'btn sm', type: 'button', onclick: async () => {
      try { await api('DELETE', `/agents/${a.id}/token`); toast('API token revoked.'); refresh(); } catch (e) { toast(e.message, 'error'); }
    } }, 'Revoke token') : el('button', { class: 'btn sm', type: 'button', onclick: async () => {
      try { const r = await api('POST', `/agents/${a.id}/token`); refresh(); showSecret(ctx, 'API token', 'API token', r.token, 'Shown once: store it now.'); } catch (e) { toast(e.message, 'error'); }
    } }, 'New API token'),
    el('button', { class: 'btn sm danger', type: 'button', onclick: () => dialog({ title: `Delete ${a.name || a.email}?`, submit: 'Delete',
      body: [el('p', {}, 'Their open conversations must be closed or transferred first.')],
      onsubmit: async () => { await api('DELETE', `/agents/${a.id}`); toast('Deleted.'); refresh(); } }) }, 'Delete'));
  fill(root,
    el('div', { class: 'pagehead' }, el('h2', {}, 'Agents'), el('button', { class: 'btn primary', type: 'button', onclick: create }, '+ Add agent')),
    table(el, ['Agent', 'Role', 'Groups', 'Chats', 'Sign-in', ''], agents.map((a) => el('tr', {},
      el('td', {}, el('span', { class: 'dot', 'data-p': a.presence }), ' ', el('strong', {}, a.name || '—'), el('div', { class: 'muted small' }, a.email)),
      el('td', {}, a.role), el('td', {}, a.groups.join(', ') || '—'),
      el('td', {}, `${a.chats} / ${a.max_chats === null ? '∞' : a.max_chats}`),
      el('td', {}, a.has_password ? 'password' : 'no password yet', a.has_token ? ' · API token' : ''),
      el('td', {}, actions(a))))));
}

export async function renderWebhooks(root, ctx) {
  const { api, el, fill, toast, dialog, field } = ctx;
  const refresh = () => renderWebhooks(root, ctx);
  let subs;
  try { subs = (await api('GET', '/webhooks')).items; } catch (e) { fill(root, el('p', { class: 'error' }, e.message)); return; }
  const create = () => {
    const id = el('input', { name: 'id', required: true, placeholder: 'crm' });
    const url = el('input', { name: 'url', type: 'url', required: true, placeholder: 'https://…' });
    const events = el('input', { name: 'events', value: '*' });
    dialog({ title: 'Add a webhook', submit: 'Add', body: [field('Id', id), field('URL', url), field('Events (comma-separated, * for all)', events)],
      onsubmit: async () => {
        const r = await api('POST', '/webhooks', { id: id.value.trim(), url: url.value.trim(), events: events.value.split(',').map((x) => x.trim()).filter(Boolean) });
        refresh();
        if (r.secret) showSecret(ctx, 'Signing secret', 'Signing secret', r.secret, 'Shown once: your endpoint verifies signatures with it.');
      } });
  };
  const deliveries = async (s) => {
    try {
      const r = await api('GET', `/webhooks/${encodeURIComponent(s.id)}/deliveries?limit=50`);
      dialog({ title: `Deliveries of ${s.id}`, submit: 'Done', body: [table(el, ['When', 'Event', 'Result'], (r.items || []).map((d) =>
        el('tr', {}, el('td', {}, d.at ? new Date(d.at).toLocaleString() : '—'), el('td', {}, `${d.type || ''} ${d.event_id || ''}`),
          el('td', {}, d.status ? String(d.status) : '', ' ', d.outcome || d.error || ''))))], onsubmit: async () => {} });
    } catch (e) { toast(e.message, 'error'); }
  };
  const replay = (s) => {
    const since = el('input', { type: 'datetime-local' });
    const ev = el('input', { placeholder: 'evt_…' });
    dialog({ title: `Replay to ${s.id}`, submit: 'Replay', body: [field('One event id', ev), field('Or everything since', since)],
      onsubmit: async () => {
        const body = ev.value.trim() ? { event_id: ev.value.trim() } : { since: new Date(since.value).toISOString() };
        const r = await api('POST', `/webhooks/${encodeURIComponent(s.id)}/replay`, body);
        toast(`Replaying ${r.replayed !== undefined ? r.replayed : ''} event(s).`);
      } });
  };
  fill(root,
    el('div', { class: 'pagehead' }, el('h2', {}, 'Webhooks'), el('button', { class: 'btn primary', type: 'button', onclick: create }, '+ Add webhook')),
    subs.length ? table(el, ['Id', 'URL', 'Events', 'State', ''], subs.map((s) => el('tr', {},
      el('td', {}, el('strong', {}, s.id), s.from_config ? el('div', { class: 'muted small' }, 'from the config file') : null),
      el('td', { class: 'mono small' }, s.url), el('td', {}, (s.events || []).join(', ')),
      el('td', {}, s.enabled === false ? 'disabled' : 'enabled'),
      el('td', {}, el('div', { class: 'rowbtns' },
        el('button', { class: 'btn sm', type: 'button', onclick: () => deliveries(s) }, 'Deliveries'),
        el('button', { class: 'btn sm', type: 'button', onclick: () => replay(s) }, 'Replay'),
        s.from_config ? null : el('button', { class: 'btn sm', type: 'button', onclick: async () => {
          try { const r = await api('POST', `/webhooks/${encodeURIComponent(s.id)}/rotate`, {}); showSecret(ctx, 'New signing secret', 'Signing secret', r.secret, 'Both secrets sign during the overlap; shown once.'); } catch (e) { toast(e.message, 'error'); }
        } }, 'Rotate secret')))))) : el('p', { class: 'empty' }, 'No webhooks yet.'));
}
