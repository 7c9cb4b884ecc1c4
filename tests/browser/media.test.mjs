// media.test.mjs - attachments in the agent inbox (#21): an agent's uploads
// (POST /api/v1/uploads, then a reply with upload_id) show in the thread,
// an image inline and a PDF as a download link, both through omnigate's own
// route GET /api/v1/messages/{id}/attachments/{n} with the page's cookie
// (img-src 'self' in the CSP: no third party is ever reached). The image
// really decodes; the link's file comes back as application/pdf with its
// name. Then the composer's Attach: a file picked in the page goes up
// (POST /api/v1/uploads with the cookie and the CSRF token) and rides the
// reply. Screenshots: media-thread.png, media-attach.png in OG_BROWSER_OUT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { startStack, launch, signIn, OUT, ADMIN_TOKEN } from './harness.mjs';

// a 120x80 PNG (a gradient, made here), and a small PDF
function crc32(buf) {
  let c, crc = 0xffffffff;
  for (const b of buf) {
    c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(w, h) {
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3);
    for (let x = 0; x < w; x++) row.set([Math.round(255 * x / w), Math.round(255 * y / h), 200], 1 + x * 3);
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}
const PNG = png(120, 80);
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n');

let stack, browser;

before(async () => {
  stack = await startStack();
  stack.passwd('admin@t.io', 'the admin password');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

async function upload(name, type, bytes) {
  const fd = new FormData();
  fd.append('file', new Blob([bytes], { type }), name);
  const r = await fetch(stack.base + '/api/v1/uploads', { method: 'POST', body: fd,
    headers: { Authorization: 'Bearer ' + ADMIN_TOKEN } });
  assert.equal(r.status, 201);
  return r.json();
}

test('an uploaded image shows inline and a PDF as a link, through the attachment route', async () => {
  await stack.customer('cust-m', 'Mia Wong', 'Can you send me the invoice?');
  const list = await stack.api('GET', '/sessions?channel=demo');
  const sid = list.items.find((s) => s.contact && s.contact.name === 'Mia Wong').id;
  const img = await upload('chart.png', 'image/png', PNG);
  assert.equal(img.mime_type, 'image/png');
  const pdf = await upload('invoice.pdf', 'application/octet-stream', PDF);
  assert.equal(pdf.mime_type, 'application/pdf'); // the bytes', not the declared type
  await stack.api('POST', `/sessions/${sid}/messages`, { text: 'Here is the chart', attachments: [{ upload_id: img.id }] });
  const m2 = await stack.api('POST', `/sessions/${sid}/messages`, { attachments: [{ upload_id: pdf.id }] });

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  const offsite = [];
  page.on('request', (r) => { if (!r.url().startsWith(stack.base)) offsite.push(r.url()); });
  await signIn(page, stack.base, 'admin@t.io', 'the admin password');
  await page.goto(stack.base + `/inbox/#/s/${sid}`);
  const im = page.locator('.thread .msg.out img');
  await im.waitFor({ timeout: 10000 });
  assert.match(await im.getAttribute('src'), /^\/api\/v1\/messages\/msg_[0-9A-Za-z]+\/attachments\/0$/);
  await page.waitForFunction(() => {
    const i = document.querySelector('.thread .msg.out img');
    return i && i.complete && i.naturalWidth === 120 && i.naturalHeight === 80;
  }, null, { timeout: 10000 });
  const link = page.locator('.thread .msg.out a.att', { hasText: 'invoice.pdf' });
  await link.waitFor();
  const href = await link.getAttribute('href');
  assert.equal(href, `/api/v1/messages/${m2.id}/attachments/0`);
  // the link's file, with the page's cookie
  const got = await page.evaluate(async (u) => {
    const r = await fetch(u);
    return { status: r.status, type: r.headers.get('content-type'), disp: r.headers.get('content-disposition'),
      nosniff: r.headers.get('x-content-type-options'), len: (await r.arrayBuffer()).byteLength };
  }, href);
  assert.equal(got.status, 200);
  assert.equal(got.type, 'application/pdf');
  assert.equal(got.nosniff, 'nosniff');
  assert.match(got.disp, /filename\*=UTF-8''invoice\.pdf/);
  assert.equal(got.len, PDF.length);
  assert.deepEqual(offsite, []);
  await page.screenshot({ path: path.join(OUT, 'media-thread.png') });
  await ctx.close();
});

test('the composer attaches a file to a reply', async () => {
  await stack.customer('cust-n', 'Noor Ali', 'Could you show me the chart?');
  const list = await stack.api('GET', '/sessions?channel=demo');
  const sid = list.items.find((s) => s.contact && s.contact.name === 'Noor Ali').id;
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await signIn(page, stack.base, 'admin@t.io', 'the admin password');
  await page.goto(stack.base + `/inbox/#/s/${sid}`);
  await page.locator('.thread .msg.in', { hasText: 'show me the chart' }).waitFor();
  // the upload is held back: Enter while it is under way must wait for it
  // and send the file with the reply (it once sent the text alone)
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route('**/api/v1/uploads', async (route) => { await held; await route.continue(); });
  await page.getByLabel('Attach a file').setInputFiles({ name: 'graph.png', mimeType: 'image/png', buffer: PNG });
  await page.locator('.composer .att-chip', { hasText: 'Uploading graph.png' }).waitFor();
  await page.getByLabel('Reply').fill('Here you go');
  await page.getByLabel('Reply').press('Enter');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await page.locator('.thread .msg.out', { hasText: 'Here you go' }).count(), 0);
  release();
  const msg = page.locator('.thread .msg.out', { hasText: 'Here you go' });
  await msg.waitFor();
  await page.waitForFunction(() => {
    const i = [...document.querySelectorAll('.thread .msg.out img')].pop();
    return i && i.complete && i.naturalWidth === 120;
  }, null, { timeout: 30000 }); // the full suite's load once made it take over 10 s
  assert.equal(await page.locator('.composer .att-chip').textContent(), '');
  const hist = await stack.api('GET', `/sessions/${sid}/messages`);
  const out = hist.items.filter((m) => m.direction === 'out').pop();
  assert.equal(out.text, 'Here you go');
  assert.equal(out.attachments[0].name, 'graph.png');
  assert.equal(out.attachments[0].mime_type, 'image/png');
  assert.match(out.attachments[0].upload_id, /^upl_/);
  await page.screenshot({ path: path.join(OUT, 'media-attach.png') });
  await ctx.close();
});
