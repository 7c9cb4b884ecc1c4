// webchat.test.mjs - the web chat widget (gateway/www/webchat/widget.js) in
// headless Chromium against the real daemon and its webchat connector
// (harness.mjs), on pages served from here: one from an allowed origin
// (under a strict CSP of its own), one from a second port that the channel
// does not allow. The offline form while nobody is online; the pre-chat
// form and the first message; the agent types and replies through the REST
// API and the reply shows in the widget; files outside the allowed types or
// size are refused with a message; a reload shows the history again (and
// a second tab, whose message shows in the first); with
// the browser context offline a message waits and, back online, arrives
// exactly once (also when the answer to the first try is lost); the survey
// after the agent closes; a phone: full-screen panel, unread badge, the
// visitor ends the chat; the refused origin shows an error and starts
// nothing; markup in names and texts is shown as text. Each state is saved
// as a screenshot in OG_BROWSER_OUT (webchat-*-desktop.png, -phone.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import path from 'node:path';
import { startStack, launch, freePort, OUT } from './harness.mjs';

const CH = 'site';
const W = 'omnigate-webchat'; // the widget's host element; locators pierce its open shadow root
let stack, browser, hostPort, badPort, pages = [], ann, ctx, page, sid;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A state at desktop size and again at phone size (the panel's phone layout
// is a width media query, so resizing the same page shows it).
async function shot(p, name) {
  const vp = p.viewportSize();
  await p.screenshot({ path: path.join(OUT, `webchat-${name}-desktop.png`), animations: 'disabled' });
  await p.setViewportSize({ width: 390, height: 844 });
  await sleep(150);
  await p.screenshot({ path: path.join(OUT, `webchat-${name}-phone.png`), animations: 'disabled' });
  await p.setViewportSize(vp);
  await sleep(100);
}

function hostPage(title) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head>
<body><h1>${title}</h1><p>A customer's site. Its own CSS must not reach the widget.</p>
<link rel="stylesheet" href="/host.css">
<script src="${stack.base}/webchat/widget.js" data-channel="${CH}" async></script></body></html>`;
}
// Rules that would wreck the widget if they leaked into it.
const HOST_CSS = 'div, button, p, textarea { color: red !important; font: 30px serif !important; background: yellow !important; }'
  + ' body { background: #f3efe6; font-family: serif; margin: 40px; }';

function serve(port, title, csp) {
  const s = createServer((req, res) => {
    if (req.url === '/host.css') { res.writeHead(200, { 'Content-Type': 'text/css' }); res.end(HOST_CSS); return; }
    const h = { 'Content-Type': 'text/html; charset=utf-8' };
    if (csp) h['Content-Security-Policy'] = csp;
    res.writeHead(200, h);
    res.end(hostPage(title));
  });
  pages.push(s);
  return new Promise((r) => s.listen(port, '127.0.0.1', r));
}

async function messages(id) {
  const r = await stack.api('GET', `/sessions/${id}/messages?limit=100`);
  return r.items;
}
async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out: ' + what);
    await sleep(100);
  }
}
const presence = (status) => stack.api('PUT', `/agents/${ann.agent.id}/presence`, { status }, ann.token);
const reply = (text) => stack.api('POST', `/sessions/${sid}/messages`, { text }, ann.token);
const widget = (p) => p.locator(W);

before(async () => {
  hostPort = await freePort();
  badPort = await freePort();
  stack = await startStack({ extraConfig: ({ base }) => ({
    webchat_demo: CH,
    channels: [{ id: CH, connector: 'webchat', csat: { scale: 5, comment: true }, options: {
      allowed_origins: `http://127.0.0.1:${hostPort} ${base}`,
      title: 'Fjord & Pine Support', pre_chat: 'name*,email,question*',
      opening_text: 'Hi! Questions about an order or a coffee? Ask away.',
      closing_text: 'Thanks for chatting with us!',
      offline_text: 'We are away right now (Mon-Fri 8-18). Leave a message and we answer by e-mail.',
      theme: '#2f6f4f right', attachments: 'image/png,image/jpeg,application/pdf max=200000',
    } }],
  }) });
  ann = await stack.api('POST', '/agents', { name: 'Ann Lee', email: 'ann@t.io', groups: ['support'] });
  assert.ok(ann.token);
  await serve(hostPort, 'Allowed shop', `default-src 'self'; script-src ${stack.base}; connect-src ${stack.base}; `
    + `img-src 'self' blob: data:; style-src 'self'`);
  await serve(badPort, 'Not an allowed site');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  for (const s of pages) await new Promise((r) => { s.closeAllConnections(); s.close(r); });
  if (stack) await stack.stop();
});

test('the offline form while no agent is online', async () => {
  const c = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p = await c.newPage();
  await p.goto(`http://127.0.0.1:${hostPort}/`);
  await p.getByRole('button', { name: 'Open the chat' }).click();
  await p.getByText('We are away right now (Mon-Fri 8-18)').waitFor();
  await p.getByRole('button', { name: 'Send the message' }).click();
  await p.getByText('Please fill this in.').first().waitFor(); // e-mail and message are required
  await p.getByLabel('Name').fill('Olaf Berg');
  await p.getByLabel('E-mail').fill('olaf@example.com');
  await p.getByLabel('Your message').fill('Do you deliver to Norway?');
  await shot(p, '01-offline-form');
  await p.getByRole('button', { name: 'Send the message' }).click();
  await p.getByText('Message sent').waitFor();
  await shot(p, '02-offline-sent');
  const q = await stack.api('GET', '/sessions?status=new');
  assert.ok(q.items.some((s) => s.contact && s.contact.name === 'Olaf Berg'), JSON.stringify(q.items));
  // the message is the start of a conversation the visitor can follow
  await p.getByRole('button', { name: 'Show the conversation' }).click();
  await widget(p).locator('.row.me', { hasText: 'Do you deliver to Norway?' }).waitFor();
  assert.ok(await p.getByRole('textbox', { name: 'Message' }).isVisible());
  await c.close();
});

test('pre-chat form, first message, the agent types and replies through the API', async () => {
  await presence('online');
  ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`http://127.0.0.1:${hostPort}/`);
  const launcher = page.getByRole('button', { name: 'Open the chat' });
  await launcher.waitFor();
  await shot(page, '03-launcher');
  // keyboard: the launcher opens with Enter, the first field gets the focus, Escape closes
  await launcher.focus();
  await page.keyboard.press('Enter');
  await page.getByLabel('Name').waitFor();
  assert.equal(await page.evaluate(() => document.querySelector('omnigate-webchat').shadowRoot.activeElement?.name), 'name');
  await page.keyboard.press('Escape');
  await widget(page).locator('.panel').waitFor({ state: 'hidden' });
  await launcher.click();
  await page.getByRole('button', { name: 'Start the chat' }).click();
  await page.getByText('Please fill this in.').first().waitFor();
  await shot(page, '04-prechat-errors');
  await page.getByLabel('Name').fill('Maria Garcia');
  assert.equal(await page.getByText('Please fill this in.').count(), 1); // the name's error went with typing
  await page.getByLabel('E-mail').fill('maria@example.com');
  await page.getByLabel('How can we help?').fill('Hi! My order #1042 has not arrived yet.');
  await shot(page, '05-prechat');
  const [started] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/webchat/${CH}/start`) && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Start the chat' }).click(),
  ]);
  assert.equal(started.status(), 201);
  sid = (await started.json()).session.id;
  await widget(page).locator('.row.me', { hasText: 'order #1042' }).waitFor();
  // routing gives the session to Ann (online): her name shows in the header
  await widget(page).locator('.head', { hasText: 'Ann Lee' }).waitFor({ timeout: 10000 });
  await until(async () => (await stack.api('GET', `/sessions/${sid}`)).status === 'active', 10000, 'session active');
  await stack.api('POST', `/sessions/${sid}/typing`, { on: true }, ann.token);
  await widget(page).locator('.typing:not([hidden])').waitFor({ timeout: 10000 });
  await shot(page, '06-agent-typing');
  const t0 = Date.now();
  await reply('Hello Maria! Sorry about that, let me check where it is.');
  await widget(page).locator('.row.them', { hasText: 'let me check where it is' }).waitFor({ timeout: 10000 });
  const ms = Date.now() - t0;
  await widget(page).locator('.typing').waitFor({ state: 'hidden' });
  await reply('It left our roastery on Monday: https://track.example/1042');
  const link = widget(page).locator('.row.them a[href="https://track.example/1042"]');
  await link.waitFor();
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill('Great, thank you!');
  await box.press('Enter');
  await widget(page).locator('.row.me:not(.pending)', { hasText: 'Great, thank you!' }).waitFor();
  // Ann opens the conversation (her read marker moves): the visitor sees "Seen"
  await stack.api('GET', `/sessions/${sid}/messages`, undefined, ann.token);
  await widget(page).locator('.row.me', { hasText: 'Great, thank you!' }).locator('.st', { hasText: 'Seen' }).waitFor({ timeout: 10000 });
  await shot(page, '07-conversation');
  const texts = (await messages(sid)).map((m) => m.text);
  assert.deepEqual(texts.filter((t) => /order #1042|Great, thank you/.test(t)),
    ['Hi! My order #1042 has not arrived yet.', 'Great, thank you!']);
  assert.deepEqual(errors, []);
  console.log(`# reply shown in the widget ${ms} ms after the API call`);
});

test('attachments: a disallowed type or an oversize file is refused with a message', async () => {
  const file = widget(page).locator('input[type=file]');
  assert.equal(await file.getAttribute('accept'), 'image/png,image/jpeg,application/pdf');
  await file.setInputFiles({ name: 'setup.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ') });
  await widget(page).getByRole('alert').filter({ hasText: '\u201csetup.exe\u201d cannot be sent: allowed are PNG, JPEG, PDF files.' }).waitFor();
  await file.setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(300000) });
  await widget(page).getByRole('alert').filter({ hasText: '\u201chuge.png\u201d is too large (293 KB); the limit is 195 KB.' }).waitFor();
  await shot(page, '08-attachment-refused');
  await widget(page).getByRole('button', { name: 'Dismiss' }).click();
  await widget(page).getByRole('alert').waitFor({ state: 'hidden' });
  const ms = await messages(sid);
  assert.ok(!ms.some((m) => /setup\.exe|huge\.png/.test(JSON.stringify(m))));
});

test('attachments: an allowed file is sent, stored once and shown as a download', async () => {
  const file = widget(page).locator('input[type=file]');
  const pdf = Buffer.from('%PDF-1.4\n% receipt\n%%EOF\n');
  await file.setInputFiles({ name: 'receipt 1042.pdf', mimeType: 'application/pdf', buffer: pdf });
  const row = widget(page).locator('.row.me:not(.pending)').filter({ has: page.locator('button[aria-label="Download receipt 1042.pdf"]') });
  await row.waitFor({ timeout: 10000 });
  await until(async () => (await messages(sid)).some((m) => (m.attachments || []).some((a) => a.name === 'receipt 1042.pdf')),
    10000, 'the file stored');
  const stored = (await messages(sid)).filter((m) => (m.attachments || []).some((a) => a.name === 'receipt 1042.pdf'));
  assert.equal(stored.length, 1);
  const a = stored[0].attachments.find((x) => x.name === 'receipt 1042.pdf');
  assert.equal(a.size, pdf.length);
  await shot(page, '08b-attachment-sent');
});

test('a reload shows the conversation again', async () => {
  const token = await page.evaluate(() => Object.keys(localStorage).find((k) => k.startsWith('og-webchat:')));
  assert.ok(token, 'the token is kept in localStorage');
  await page.reload();
  await widget(page).locator('.row.them', { hasText: 'let me check where it is' }).waitFor({ timeout: 10000 });
  await widget(page).locator('.row.me', { hasText: 'order #1042' }).waitFor();
  await widget(page).locator('.row.me', { hasText: 'Great, thank you!' }).waitFor();
  assert.equal(await widget(page).locator('.head', { hasText: 'Ann Lee' }).count(), 1);
  await shot(page, '09-after-reload');
  // a second tab resumes the same conversation; what it sends shows in the first
  const tab2 = await ctx.newPage();
  await tab2.goto(`http://127.0.0.1:${hostPort}/`);
  await tab2.getByRole('button', { name: 'Open the chat' }).click();
  await widget(tab2).locator('.row.me', { hasText: 'Great, thank you!' }).waitFor();
  await tab2.getByRole('textbox', { name: 'Message' }).fill('Written in another tab');
  await tab2.getByRole('textbox', { name: 'Message' }).press('Enter');
  await widget(page).locator('.row.me', { hasText: 'Written in another tab' }).waitFor({ timeout: 10000 });
  await tab2.close();
});

test('offline: a message typed meanwhile arrives once when back', async () => {
  const box = page.getByRole('textbox', { name: 'Message' });
  await ctx.setOffline(true);
  await widget(page).getByText('You are offline').waitFor();
  await box.fill('Typed while offline');
  await box.press('Enter');
  await widget(page).locator('.row.me.pending', { hasText: 'Typed while offline' }).waitFor();
  await shot(page, '10-offline-queued');
  await sleep(500);
  assert.equal((await messages(sid)).filter((m) => m.text === 'Typed while offline').length, 0);
  // what the agent says meanwhile is fetched after the reconnect
  await reply('Are you still there?');
  await ctx.setOffline(false);
  await widget(page).locator('.row.me:not(.pending)', { hasText: 'Typed while offline' }).waitFor({ timeout: 10000 });
  await widget(page).locator('.row.them', { hasText: 'Are you still there?' }).waitFor({ timeout: 10000 });
  await widget(page).getByText('You are offline').waitFor({ state: 'hidden' });
  await sleep(1000);
  assert.equal((await messages(sid)).filter((m) => m.text === 'Typed while offline').length, 1);
  assert.equal(await widget(page).locator('.row', { hasText: 'Typed while offline' }).count(), 1);
  assert.equal(await widget(page).locator('.row', { hasText: 'Are you still there?' }).count(), 1);

  // the server stores a message but its answer is lost: the retry (same
  // client_id) does not store it twice
  let cut = 0;
  await page.route(`**/webchat/${CH}/messages`, async (route) => {
    if (route.request().method() === 'POST' && cut++ === 0) {
      await route.fetch();
      await route.abort('connectionreset');
    } else {
      await route.continue();
    }
  });
  await box.fill('Sent once, answered never');
  await box.press('Enter');
  await widget(page).locator('.row.me:not(.pending)', { hasText: 'Sent once, answered never' }).waitFor({ timeout: 15000 });
  await page.unroute(`**/webchat/${CH}/messages`);
  assert.ok(cut >= 1);
  // stored: the stream's copy or the retry's answer settled it, the outbox is empty
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.endsWith(':outbox')).length), 0);
  await sleep(500);
  assert.equal((await messages(sid)).filter((m) => m.text === 'Sent once, answered never').length, 1);
  assert.equal(await widget(page).locator('.row', { hasText: 'Sent once, answered never' }).count(), 1);
  await shot(page, '11-back-online');
});

test('the survey after the agent closes', async () => {
  await stack.api('POST', `/sessions/${sid}/close`, { reason: 'solved' }, ann.token);
  await widget(page).locator('.sysmsg', { hasText: 'Thanks for chatting with us!' }).waitFor({ timeout: 10000 });
  const survey = widget(page).getByRole('form', { name: 'Rate the conversation' });
  await survey.waitFor();
  await shot(page, '12-survey');
  await survey.getByRole('button', { name: '4 of 5, Good' }).click();
  await survey.getByLabel('Comment (optional)').fill('Quick and friendly <3');
  await shot(page, '13-survey-filled');
  await survey.getByRole('button', { name: 'Send rating' }).click();
  await widget(page).getByText('Thank you for your feedback!').waitFor();
  await sleep(100);
  const [panelBox, headBox] = [await widget(page).locator('.panel').boundingBox(), await widget(page).locator('.head').boundingBox()];
  assert.equal(headBox.y, panelBox.y, 'the header stays in view');
  await shot(page, '14-survey-thanks');
  const s = await stack.api('GET', `/sessions/${sid}`);
  assert.equal(s.csat.score, 4);
  assert.equal(s.csat.comment, 'Quick and friendly <3');
});

test('a phone: the panel fills the screen, history and unread badge', async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
    storageState: await ctx.storageState() });
  const p = await phone.newPage();
  await p.goto(`http://127.0.0.1:${hostPort}/`);
  await p.locator('omnigate-webchat[data-state="chat"]').waitFor({ state: 'attached' }); // the conversation is loaded
  // a new reply while the panel is closed: a badge and a preview
  await stack.api('POST', `/sessions/${sid}/reopen`, {}, ann.token).catch(() => {});
  await until(async () => (await stack.api('GET', `/sessions/${sid}`)).status !== 'closed', 10000, 'reopened');
  await reply('PS: here is a 10% voucher for next time: THANKS10');
  await p.getByRole('button', { name: /Open the chat \(1 new message\)/ }).waitFor({ timeout: 10000 });
  await widget(p).locator('.peek', { hasText: 'THANKS10' }).waitFor();
  await p.screenshot({ path: path.join(OUT, 'webchat-15-unread-phone.png'), animations: 'disabled' });
  await widget(p).locator('.peek').tap();
  const panel = widget(p).locator('.panel');
  await panel.waitFor();
  await sleep(200);
  const b = await panel.boundingBox();
  assert.deepEqual([b.x, b.y, b.width, b.height], [0, 0, 390, 844]);
  await widget(p).locator('.row.me', { hasText: 'order #1042' }).waitFor();
  await p.screenshot({ path: path.join(OUT, 'webchat-16-conversation-phone.png'), animations: 'disabled' });
  // the visitor ends the conversation (asked first); rated already, so no second survey
  await p.getByRole('button', { name: 'End the conversation' }).tap();
  await p.getByText('End this conversation?').waitFor();
  await p.screenshot({ path: path.join(OUT, 'webchat-17-end-confirm-phone.png'), animations: 'disabled' });
  await p.getByRole('button', { name: 'End it' }).tap();
  await until(async () => (await stack.api('GET', `/sessions/${sid}`)).status === 'closed', 10000, 'closed by the visitor');
  await p.getByRole('button', { name: 'End the conversation' }).waitFor({ state: 'hidden' });
  assert.equal(await widget(p).locator('.survey:not(.done)').count(), 0);
  await p.getByRole('button', { name: 'Minimize the chat' }).tap();
  await panel.waitFor({ state: 'hidden' });
  await phone.close();
});

test('a page from an origin the channel does not allow is refused', async () => {
  const before = (await stack.api('GET', '/sessions?limit=100')).items.length;
  const c = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p = await c.newPage();
  await p.goto(`http://127.0.0.1:${badPort}/`);
  await p.getByRole('button', { name: 'Open the chat' }).click();
  await widget(p).getByText('Chat unavailable').waitFor();
  await widget(p).getByText('not available on this website').waitFor();
  assert.equal(await widget(p).locator('form').count(), 0);
  assert.equal(await widget(p).getByRole('textbox').count(), 0);
  await shot(p, '18-refused-origin');
  assert.deepEqual(await p.evaluate(() => Object.keys(localStorage)), []);
  // and the API itself says no, with no CORS grant
  const r = await fetch(`${stack.base}/webchat/${CH}/config`, { headers: { Origin: `http://127.0.0.1:${badPort}` } });
  assert.equal(r.status, 403);
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  assert.equal((await stack.api('GET', '/sessions?limit=100')).items.length, before);
  await c.close();
});

test('markup in names and texts is shown as text and never runs', async () => {
  const evil = '<img src=x onerror="window.__pwned=1">';
  const c = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p = await c.newPage();
  const dialogs = [];
  p.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await p.goto(`http://127.0.0.1:${hostPort}/`);
  await p.getByRole('button', { name: 'Open the chat' }).click();
  await p.getByLabel('Name').fill(evil);
  await p.getByLabel('How can we help?').fill('<script>window.__pwned=2</script><b>bold?</b>');
  const [started] = await Promise.all([
    p.waitForResponse((r) => r.url().endsWith(`/webchat/${CH}/start`)),
    p.getByRole('button', { name: 'Start the chat' }).click(),
  ]);
  const xsid = (await started.json()).session.id;
  await until(async () => (await stack.api('GET', `/sessions/${xsid}`)).status === 'active', 10000, 'assigned');
  await stack.api('POST', `/sessions/${xsid}/messages`, { text: `Hi ${evil} <a href="javascript:alert(1)">click</a>` }, ann.token);
  const theirs = widget(p).locator('.row.them .text', { hasText: 'click' });
  await theirs.waitFor({ timeout: 10000 });
  assert.equal(await theirs.textContent(), `Hi ${evil} <a href="javascript:alert(1)">click</a>`);
  assert.equal(await widget(p).locator('.row.me .text').first().textContent(), '<script>window.__pwned=2</script><b>bold?</b>');
  assert.equal(await widget(p).locator('img[src="x"], script, b, a[href^="javascript"]').count(), 0);
  await sleep(300);
  assert.equal(await p.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(dialogs, []);
  await shot(p, '19-markup-as-text');
  await c.close();
});

test('the demo page: a shop page of the daemon itself with the widget, chatting end to end', async () => {
  const c = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p = await c.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(e.message));
  p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const r = await p.goto(`${stack.base}/webchat/demo`);
  assert.equal(r.status(), 200);
  assert.match(r.headers()['content-security-policy'], /script-src 'self'/); // no inline script needed
  await p.getByRole('heading', { name: /Small-batch coffee/ }).waitFor();
  await shot(p, '20-demo-page');
  await p.getByRole('button', { name: 'Chat with us' }).click();
  await p.getByLabel('Name').fill('Demo Visitor');
  await p.getByLabel('How can we help?').fill('Which coffee is best for espresso?');
  const [started] = await Promise.all([
    p.waitForResponse((x) => x.url().endsWith(`/webchat/${CH}/start`)),
    p.getByRole('button', { name: 'Start the chat' }).click(),
  ]);
  assert.equal(started.status(), 201);
  const dsid = (await started.json()).session.id;
  await until(async () => (await stack.api('GET', `/sessions/${dsid}`)).status === 'active', 10000, 'assigned');
  await stack.api('POST', `/sessions/${dsid}/messages`, { text: 'Midnight Espresso, without a doubt.' }, ann.token);
  await widget(p).locator('.row.them', { hasText: 'Midnight Espresso' }).waitFor({ timeout: 10000 });
  await shot(p, '21-demo-chat');
  assert.deepEqual(errors, []);
  await c.close();
});
