// csat.test.mjs - the public survey page of a signed link (/csat/{token},
// gateway/www/csat) in headless Chromium on a phone-sized viewport against
// the real daemon (harness.mjs): the page shows the channel's question and
// five stars, a rating with a comment that looks like HTML is sent and
// stored literally (no script runs), the thanks replace the form; the same
// link again is the "rated already" page (410), a forged one the "not
// valid" page (401), an expired one the "expired" page (410); the pages
// carry a strict CSP and nothing breaks it. Screenshots go to
// OG_BROWSER_OUT (build/browser-out), csat-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { startStack, launch, ADMIN_TOKEN, OUT } from './harness.mjs';

const QUESTION = 'How did Ann do today?';
let stack, browser, page, sid;
const problems = [];
const shot = (name) => page.screenshot({ path: path.join(OUT, name + '.png'), fullPage: true });

// The link's token as docs/openapi.yaml describes it (/csat/{token}).
function token(session, exp) {
  const key = createHmac('sha256', ADMIN_TOKEN).update('omnigate csat link v1').digest();
  const mac = createHmac('sha256', key).update(`csat\n${session}\n${exp}`).digest().subarray(0, 16);
  return `${session}.${exp}.${mac.toString('hex')}`;
}
const now = () => Math.floor(Date.now() / 1000);

before(async () => {
  stack = await startStack({ channelExtra: { csat: { scale: 5, question: QUESTION,
    thanks: 'Thank you, that helps us a lot!', comment: true } } });
  browser = await launch();
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2,
    isMobile: true, hasTouch: true });
  page = await ctx.newPage();
  // a refused link's page is an HTTP error on purpose (and the browser asks
  // for /favicon.ico): what must not happen is a script error or a CSP report
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  await stack.customer('cust-1', 'Maria Garcia', 'Where is my order?');
  for (let i = 0; i < 100 && !sid; i++) {
    const l = await stack.api('GET', '/sessions?channel=demo');
    sid = l.items && l.items[0] && l.items[0].id;
    if (!sid) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(sid, 'the session exists');
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

test('rate with stars and a comment on a phone', async () => {
  const tok = token(sid, now() + 600);
  const res = await page.goto(`${stack.base}/csat/${tok}`);
  assert.equal(res.status(), 200);
  const csp = res.headers()['content-security-policy'] || '';
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(res.headers()['referrer-policy'], 'no-referrer');
  await page.locator('#title', { hasText: QUESTION }).waitFor();
  assert.equal(await page.locator('.scale input[type=radio]').count(), 5);
  await shot('csat-01-survey');
  assert.ok(await page.locator('#send').isDisabled(), 'nothing to send before a star is picked');
  await page.getByLabel('4 of 5').check({ force: true });
  await page.locator('#picked', { hasText: 'Very good' }).waitFor();
  assert.equal(await page.locator('.face.on').count(), 4);
  await page.locator('#comment').fill('<img src=x onerror="window.__pwned=1"> Quick & kind');
  await shot('csat-02-picked');
  await page.locator('#send').click();
  await page.locator('#title', { hasText: 'Thank you, that helps us a lot!' }).waitFor();
  assert.ok(await page.locator('#form').isHidden());
  await shot('csat-03-thanks');
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  const s = await stack.api('GET', `/sessions/${sid}`);
  assert.equal(s.csat.score, 4);
  assert.equal(s.csat.scale, 5);
  assert.equal(s.csat.comment, '<img src=x onerror="window.__pwned=1"> Quick & kind');
});

test('the link is used once; forged and expired links say so', async () => {
  let res = await page.goto(`${stack.base}/csat/${token(sid, now() + 600)}`);
  assert.equal(res.status(), 410);
  await page.getByRole('heading', { name: 'This conversation was rated already' }).waitFor();
  await shot('csat-04-used');
  const forged = token(sid, now() + 600).replace(/.$/, (c) => (c === '0' ? '1' : '0'));
  res = await page.goto(`${stack.base}/csat/${forged}`);
  assert.equal(res.status(), 401);
  await page.getByRole('heading', { name: 'This survey link is not valid' }).waitFor();
  await shot('csat-05-forged');
  res = await page.goto(`${stack.base}/csat/${token(sid, now() - 5)}`);
  assert.equal(res.status(), 410);
  await page.getByRole('heading', { name: 'This survey link has expired' }).waitFor();
  assert.doesNotMatch(res.headers()['content-security-policy'] || '', /script-src/);
  const s = await stack.api('GET', `/sessions/${sid}`);
  assert.equal(s.csat.score, 4, 'still the first answer');
  assert.deepEqual(problems, [], 'no console errors or CSP violations');
});
