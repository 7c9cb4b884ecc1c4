// templates.test.mjs - WhatsApp templates and reply buttons in the inbox, in
// headless Chromium against the real daemon (harness.mjs) with the whatsapp
// connector and a fake Graph API on 127.0.0.1: the composer's "Template…"
// lists the channel's approved templates, asks for the body's parameters,
// previews the text and sends it (the exact Graph body is checked); the
// history shows the rendered text and the template's name; a closed
// conversation starts again with a template from "New conversation"; on
// Messenger the composer's "Human agent tag" sends MESSAGE_TAG HUMAN_AGENT; a reply sent
// with buttons shows them as chips, and the customer's tap is marked. No
// script error, nothing breaks the CSP. Screenshots go to OG_BROWSER_OUT
// (build/browser-out), templates-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import path from 'node:path';
import { startStack, launch, signIn, freePort, OUT } from './harness.mjs';

const APP_SECRET = 'browser-wa-secret';
const PHONE_ID = '106540352242922';
const FB_SECRET = 'browser-fb-secret';
const PAGE_ID = '110000000000001';
const fbSent = []; // bodies the Send API got
let stack, browser, page, graph, graphBase;
const sent = []; // bodies the Graph API got on /messages
const problems = [];
const shot = (name) => page.screenshot({ path: path.join(OUT, name + '.png') });

const TEMPLATES = {
  data: [
    { name: 'order_update', parameter_format: 'POSITIONAL', language: 'en_US', status: 'APPROVED', category: 'UTILITY', id: '1',
      components: [{ type: 'BODY', text: 'Hello {{1}}, your order {{2}} has shipped.' }] },
    { name: 'hello_world', parameter_format: 'POSITIONAL', language: 'en_US', status: 'APPROVED', category: 'MARKETING', id: '2',
      components: [{ type: 'BODY', text: 'Hello World' }] },
  ],
  paging: { cursors: { before: 'b', after: 'a' } },
};

async function hook(value) {
  const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: 'WABA1', changes: [{ field: 'messages', value: {
    messaging_product: 'whatsapp', metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_ID },
    contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: '16505551234' }], ...value } }] }] });
  const sig = createHmac('sha256', APP_SECRET).update(body).digest('hex');
  const r = await fetch(stack.base + '/hooks/wa', { method: 'POST', body,
    headers: { 'X-Hub-Signature-256': 'sha256=' + sig, 'Content-Type': 'application/json' } });
  assert.equal(r.status, 200);
}

before(async () => {
  graph = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (req.method === 'GET' && req.url.startsWith('/v25.0/WABA1/message_templates')) return res.end(JSON.stringify(TEMPLATES));
      if (req.method === 'POST' && req.url === `/v25.0/${PAGE_ID}/messages`) {
        fbSent.push(JSON.parse(body));
        return res.end(JSON.stringify({ recipient_id: '7001000000000001', message_id: 'm_OUT' + fbSent.length }));
      }
      if (req.method === 'POST' && req.url === `/v25.0/${PHONE_ID}/messages`) {
        sent.push(JSON.parse(body));
        return res.end(JSON.stringify({ messaging_product: 'whatsapp', messages: [{ id: 'wamid.OUT' + sent.length }] }));
      }
      res.end('{}');
    });
  });
  const gport = await freePort();
  await new Promise((r) => graph.listen(gport, '127.0.0.1', r));
  graphBase = `http://127.0.0.1:${gport}`;
  stack = await startStack({ extraConfig: { channels: [{ id: 'wa', connector: 'whatsapp', options: {
    access_token: 'wa-token', app_secret: APP_SECRET, verify_token: 'v', phone_number_id: PHONE_ID,
    waba_id: 'WABA1', api_base: graphBase } }, { id: 'fb', connector: 'facebook', options: {
    page_access_token: 'fb-token', app_secret: FB_SECRET, verify_token: 'v', page_id: PAGE_ID,
    api_base: graphBase } }] } });
  stack.passwd('admin@t.io', 'the admin password');
  browser = await launch();
  page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  // the sign-in page's first /me is a 401 on purpose: only script errors count
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  await hook({ messages: [{ from: '16505551234', id: 'wamid.IN1', timestamp: String(Math.floor(Date.now() / 1000)),
    type: 'text', text: { body: 'Where is my order?' } }] });
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
  if (graph) await new Promise((r) => graph.close(r));
});

test('send a template from the composer', async () => {
  await signIn(page, stack.base, 'admin@t.io', 'the admin password');
  await page.locator('.nav .navitem', { hasText: 'Queue' }).click();
  await page.locator('.items .item', { hasText: 'Sheena Nelson' }).click();
  await page.locator('.thread .msg.in', { hasText: 'Where is my order?' }).waitFor();
  await page.getByRole('button', { name: 'Template…' }).click();
  const sel = page.getByLabel('Template', { exact: true });
  await sel.waitFor();
  await sel.selectOption({ label: 'order_update (en_US)' });
  await page.getByLabel('Parameter 1').fill('Ann');
  await page.getByLabel('Parameter 2').fill('42');
  assert.equal(await page.locator('.tplpreview').textContent(), 'Hello Ann, your order 42 has shipped.');
  await shot('templates-1-picker');
  await page.getByRole('button', { name: 'Send template' }).click();
  const msg = page.locator('.thread .msg.out', { hasText: 'your order 42 has shipped' });
  await msg.waitFor();
  assert.equal(await msg.locator('.mnote code').textContent(), 'order_update');
  await msg.locator('.mstatus.st-sent').waitFor({ timeout: 5000 });
  assert.deepEqual(sent.at(-1), { messaging_product: 'whatsapp', recipient_type: 'individual', to: '16505551234',
    type: 'template', template: { name: 'order_update', language: { code: 'en_US' }, components: [{ type: 'body',
      parameters: [{ type: 'text', text: 'Ann' }, { type: 'text', text: '42' }] }] } });
  await shot('templates-2-sent');
});

test('buttons show as chips, and the customer\'s tap is marked', async () => {
  const sid = (await stack.api('GET', '/sessions?channel=wa')).items[0].id;
  await stack.api('POST', `/sessions/${sid}/messages`, { text: 'Did it arrive?', buttons: [{ id: 'yes', title: 'Yes' }, { id: 'no', title: 'Not yet' }] });
  const out = page.locator('.thread .msg.out', { hasText: 'Did it arrive?' });
  await out.waitFor({ timeout: 5000 });
  assert.deepEqual(await out.locator('.chip').allTextContents(), ['Yes', 'Not yet']);
  await hook({ messages: [{ from: '16505551234', id: 'wamid.TAP', timestamp: String(Math.floor(Date.now() / 1000)),
    type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'no', title: 'Not yet' } } }] });
  const tap = page.locator('.thread .msg.in', { hasText: 'Not yet' });
  await tap.waitFor({ timeout: 5000 });
  assert.equal(await tap.locator('.mnote').textContent(), 'Tapped a button');
  await shot('templates-3-buttons');
});

test('a new conversation starts with a template', async () => {
  const sid = (await stack.api('GET', '/sessions?channel=wa')).items[0].id;
  await stack.api('POST', `/sessions/${sid}/close`, { reason: 'solved' });
  await page.getByRole('button', { name: 'New conversation' }).last().click();
  const dlg = page.locator('dialog.dlg');
  await dlg.waitFor();
  await dlg.getByLabel('Template', { exact: true }).selectOption({ label: 'hello_world (en_US)' });
  assert.equal(await dlg.locator('.tplpreview').textContent(), 'Hello World');
  await shot('templates-4-new-conversation');
  const n = sent.length;
  await dlg.getByRole('button', { name: 'Send' }).click();
  await page.locator('.thread .msg.out', { hasText: 'Hello World' }).waitFor({ timeout: 5000 });
  for (let i = 0; i < 100 && sent.length === n; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(sent.at(-1), { messaging_product: 'whatsapp', recipient_type: 'individual', to: '16505551234',
    type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } });
});

test('Messenger: a reply with the human agent tag', async () => {
  const body = JSON.stringify({ object: 'page', entry: [{ id: PAGE_ID, time: Date.now(), messaging: [{
    sender: { id: '7001000000000001' }, recipient: { id: PAGE_ID }, timestamp: Date.now(),
    message: { mid: 'm_IN1', text: 'Any news on my refund?' } }] }] });
  const sig = createHmac('sha256', FB_SECRET).update(body).digest('hex');
  const r = await fetch(stack.base + '/hooks/fb', { method: 'POST', body,
    headers: { 'X-Hub-Signature-256': 'sha256=' + sig, 'Content-Type': 'application/json' } });
  assert.equal(r.status, 200);
  await page.locator('.nav .navitem', { hasText: 'Queue' }).click();
  await page.locator('.items .item', { has: page.locator('.chan', { hasText: 'fb' }) }).first().click();
  await page.locator('.thread .msg.in', { hasText: 'Any news on my refund?' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Template…' }).count(), 0); /* Messenger has none */
  await page.getByLabel('Send with the HUMAN_AGENT tag').check();
  await page.getByLabel('Reply').fill('The refund left today.');
  await page.getByLabel('Reply').press('Enter');
  const msg = page.locator('.thread .msg.out', { hasText: 'The refund left today.' });
  await msg.waitFor();
  await msg.locator('.mstatus.st-sent').waitFor({ timeout: 5000 });
  assert.equal(await msg.locator('.mnote code').textContent(), 'HUMAN_AGENT');
  assert.deepEqual(fbSent.at(-1), { recipient: { id: '7001000000000001' }, messaging_type: 'MESSAGE_TAG',
    tag: 'HUMAN_AGENT', message: { text: 'The refund left today.' } });
  await shot('templates-5-tag');
  assert.deepEqual(problems, []);
});
