// stats.test.mjs - the inbox's Statistics and Exports pages (#20) in headless
// Chromium against the real daemon (harness.mjs): a conversation taken,
// answered and closed with a success code today; the manager's Statistics
// page shows it in its figures, its SVG bar charts, the proactive/reactive
// bar, the success codes and the per-agent table (an agent named with markup
// shown as text, nothing run); an agent sees Statistics (its own) but not
// Exports; the Exports page downloads a CSV that parses back, creates a
// report link that works without signing in, and revokes it (401 after).
// Screenshots go to OG_BROWSER_OUT (build/browser-out).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, launch, signIn, OUT } from './harness.mjs';

let stack, browser, page, ann, annTok;
const shot = (p, name) => p.screenshot({ path: path.join(OUT, name + '.png'), fullPage: true });
const daysAgo1 = () => { const d = new Date(); d.setDate(d.getDate() - 1); return d.toLocaleDateString('en-CA'); };
const EVIL = '<img src=x onerror="window.__pwned=1">';

before(async () => {
  stack = await startStack();
  await stack.agent({ name: 'Meg Manager', email: 'meg@t.io', role: 'manager' }, "meg's password");
  const r = await stack.api('POST', '/agents', { name: 'Ann Lee', email: 'ann@t.io' });
  ann = r.agent;
  annTok = r.token;
  await stack.api('PUT', `/agents/${ann.id}/password`, { password: "ann's password" });
  await stack.agent({ name: EVIL, email: 'evil@t.io' }, "evil's password");
  // a conversation: taken, answered, closed with a code
  await stack.customer('cust-1', 'Maria Garcia', 'Where is my order?');
  let sid = null;
  for (let i = 0; i < 50 && !sid; i++) {
    const s = await stack.api('GET', '/sessions');
    sid = s.items.length ? s.items[0].id : null;
    if (!sid) await new Promise((res) => setTimeout(res, 100));
  }
  await stack.api('POST', `/sessions/${sid}/assign`, undefined, annTok);
  await stack.api('POST', `/sessions/${sid}/messages`, { text: 'On its way!' }, annTok);
  await stack.customer('cust-1', 'Maria Garcia', 'Thanks');
  await stack.api('POST', `/sessions/${sid}/messages`, { text: 'You are welcome' }, annTok);
  await stack.api('POST', `/sessions/${sid}/close`, { reason: 'solved', success_codes: ['sale'] }, annTok);
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

test('the manager\'s Statistics page: figures, charts, per agent', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true });
  page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page, stack.base, 'meg@t.io', "meg's password");
  await page.locator('.nav .navitem', { hasText: 'Statistics' }).click();
  await page.locator('.kpi').first().waitFor();
  const kpi = async (label) => page.locator('.kpi', { hasText: label }).locator('.kpiv').textContent();
  assert.equal(await kpi('Chats'), '1');
  assert.equal(await kpi('Messages in / out'), '2 / 2');
  assert.equal(await kpi('Proactive'), '0%');
  // today's bar is drawn by the page, with the value it shows
  const today = new Date().toLocaleDateString('en-CA');
  const bar = page.locator(`svg.chart rect.bar[data-key="${today}"]`).first();
  assert.equal(await bar.getAttribute('data-v'), '1');
  assert.ok(Number(await bar.getAttribute('height')) > 0);
  assert.equal(await page.locator('svg.chart').first().locator('rect.bar').count(), 7); // a week, empty days too
  assert.equal(await page.locator('svg.codes rect[data-code="sale"]').count(), 1);
  assert.ok((await page.locator('svg.split').getAttribute('aria-label')).includes('Reactive 100%'));
  // the queue: Maria waited alone until Ann took her conversation, today
  assert.equal(await page.locator('svg.queue rect.bar').count(), 7);
  assert.equal(await page.locator('svg.queue circle.qmax').count(), 7);
  assert.equal(await page.locator(`svg.queue circle.qmax[data-key="${today}"]`).getAttribute('data-v'), '1');
  assert.equal(await page.locator(`svg.queue circle.qmax[data-key="${daysAgo1()}"]`).getAttribute('data-v'), '0');
  assert.match(await kpi('Queue avg. / most'), /^[0-9.]+ \/ 1$/);
  assert.match(await kpi('Longest wait'), /^[0-9]+ s$/);
  // per agent: Ann's row, and the agent named with markup shown as text
  const row = page.locator(`tr[data-agent="${ann.id}"]`);
  assert.equal(await row.locator('td').nth(0).textContent(), 'Ann Lee');
  assert.equal(await row.locator('td').nth(1).textContent(), '1');
  await page.locator('td', { hasText: EVIL }).waitFor();
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.locator('.page img').count(), 0);
  await shot(page, 'stats-01-statistics');
  await page.locator('svg.queue').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(OUT, 'stats-01c-queue.png') });
  await row.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(OUT, 'stats-01b-per-agent.png') });
  // by hour, and a filter that matches nothing
  await page.getByLabel('Buckets').selectOption('hour');
  await page.getByRole('textbox', { name: 'Success code' }).fill('nothing');
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await page.locator('.kpi', { hasText: 'Chats' }).locator('.kpiv', { hasText: /^0$/ }).waitFor();
  const hoursDrawn = await page.locator('svg.chart').first().locator('rect.bar').count();
  assert.equal(await page.locator('svg.queue circle.qmax').count(), 0); // not kept per code
  assert.ok(hoursDrawn >= 167 && hoursDrawn <= 169, `${hoursDrawn} hours`); // a week of hours
  // a bad zone is answered with the server's message
  await page.getByLabel('Time zone').fill('Mars/Olympus');
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await page.locator('.statsout .error', { hasText: 'unknown time zone' }).waitFor();
  assert.deepEqual(errors, []);
});

test('Exports: a CSV download, a report link created, used and revoked', async () => {
  await page.locator('.nav .navitem', { hasText: 'Exports' }).click();
  await page.locator('.downloads a[data-report="conversations"]').waitFor();
  const [dl] = await Promise.all([page.waitForEvent('download'),
    page.locator('.downloads a[data-report="conversations"]').click()]);
  const csv = readFileSync(await dl.path(), 'utf8');
  const lines = csv.split('\r\n');
  assert.ok(lines[0].startsWith('session_id,channel,contact_id,contact_name,'));
  assert.equal(lines.length, 3); // the header, one session, the final CRLF
  assert.ok(lines[1].includes('Maria Garcia') && lines[1].includes(',sale,'));

  await page.getByRole('button', { name: '+ New link' }).click();
  const dlg = page.locator('dialog');
  await dlg.getByLabel('Report').selectOption('traffic');
  await dlg.getByRole('button', { name: 'Create' }).click();
  const input = page.locator('dialog input[aria-label="Report link"]');
  await input.waitFor();
  const url = await input.inputValue();
  assert.match(url, /\/reports\/[0-9a-f]{64}\?from=/);
  await shot(page, 'stats-02-report-link');
  await page.locator('dialog').getByRole('button', { name: 'Close', exact: true }).click();
  let r = await fetch(url); // no cookie, no token: the link is the credential
  assert.equal(r.status, 200);
  assert.ok((await r.text()).startsWith('hour,new_sessions,'));
  const rowLink = page.locator('tr[data-link]');
  await rowLink.waitFor();
  await page.reload();
  await page.locator('tr[data-link] td', { hasText: /^1$/ }).waitFor(); // one use
  await shot(page, 'stats-03-exports');
  await page.locator('tr[data-link]').getByRole('button', { name: 'Revoke' }).click();
  await page.getByText('No report links yet.').waitFor();
  r = await fetch(url);
  assert.equal(r.status, 401);
});

test('an agent sees its own Statistics, not Exports', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p = await ctx.newPage();
  await signIn(p, stack.base, 'ann@t.io', "ann's password");
  await p.locator('.nav .navitem', { hasText: 'Statistics' }).click();
  await p.locator('.kpi').first().waitFor();
  assert.equal(await p.locator('.nav .navitem', { hasText: 'Exports' }).count(), 0);
  assert.equal(await p.locator('.kpi', { hasText: 'Chats' }).locator('.kpiv').textContent(), '1');
  assert.equal(await p.getByLabel('Agent').count(), 0);
  assert.equal(await p.locator('tr[data-agent]').count(), 1); // only hers
  await shot(p, 'stats-04-agent');
  await ctx.close();
});
