// bench_inbox.mjs - figures for the inbox (not a test): first paint of the
// signed-in page, the time from a customer's POST to /hooks to the message
// visible in the open Queue (p50/p99 over 200 messages, one at a time), and
// what the page weighs on the wire (HTML + JS + CSS, gzip as served).
// Run: node tests/browser/bench_inbox.mjs (OG_BINARY_DIR=build by default).
import { startStack, launch, signIn } from './harness.mjs';

const N = Number(process.env.OG_BENCH_N || 200);
const stack = await startStack();
const browser = await launch();
try {
  await stack.agent({ name: 'Bench', email: 'bench@t.io' }, 'bench password');
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await ctx.newPage();
  await signIn(page, stack.base, 'bench@t.io', 'bench password');
  // weight: a fresh load of the page, counting encoded bytes per resource
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true }); // a first visit's bytes, not 304s
  const sizes = new Map();
  cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
  const kinds = new Map();
  cdp.on('Network.responseReceived', (e) => kinds.set(e.requestId, e.response.url));
  await page.reload();
  await page.locator('.live.live').waitFor();
  const fp = await page.evaluate(() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime);
  let bytes = 0;
  for (const [id, n] of sizes) if (/\.(html|js|css|svg)$|\/inbox\/$/.test(kinds.get(id) || '')) bytes += n;
  // latency: each message's name is unique; the page shows it by itself
  const lat = [];
  for (let i = 0; i < N; i++) {
    const name = `Bench Customer ${i}`;
    const t0 = Date.now();
    await stack.customer(`bench-${i}`, name, `message ${i}`);
    await page.locator('.items .item-name', { hasText: new RegExp(`^${name}$`) }).waitFor({ timeout: 10000 });
    lat.push(Date.now() - t0);
  }
  lat.sort((a, b) => a - b);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))];
  console.log(`first contentful paint (signed in, reload): ${fp ? fp.toFixed(0) : '?'} ms`);
  console.log(`customer POST -> visible in the Queue, ${N} messages: p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${lat[lat.length - 1]} ms`);
  console.log(`page weight (HTML+JS+CSS+SVG, as transferred): ${(bytes / 1024).toFixed(1)} KB`);
} finally {
  await browser.close();
  await stack.stop();
}
