// harness.mjs - what the browser tests and the inbox benchmark run against:
// a redis-server and the real omnigate daemon of this build, each on a free
// port in a temp dir, a signed_json channel "demo" whose replies go to a
// sink here (answering 200, so replies become "sent"), agents with
// passwords, and headless Debian Chromium through playwright-core.
// Everything started here is stopped by its own process handle.
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = process.env.OG_BINARY_DIR || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../build');
export const OUT = process.env.OG_BROWSER_OUT || path.join(BIN, 'browser-out');
export const ADMIN_TOKEN = 'browser-admin-token-0123456789';
export const SECRET = 'browser-secret';
export const CHROMIUM_ARGS = ['--no-sandbox', '--headless=new', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-default-apps',
  '--metrics-recording-only', '--disable-features=Translate,MediaRouter,OptimizationHints'];

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { if (await fn()) return; } catch (_) { /* not yet */ }
    await sleep(50);
  }
  throw new Error('timed out waiting for ' + what);
}

function redisPing(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => c.write('PING\r\n'));
    c.on('data', (d) => { c.destroy(); resolve(String(d).startsWith('+PONG')); });
    c.on('error', () => resolve(false));
  });
}

// Starts everything; returns {base, stop(), api(), post(), ...}.
// extraConfig: keys merged over the config, or a function of {port, base}
// returning them (for options that name the daemon's own address).
// channelExtra: more keys of the channel "demo" (its csat, texts...).
export async function startStack({ extraConfig = {}, channelExtra = {} } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'og-browser-'));
  const procs = [];
  const rport = await freePort();
  const redis = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(rport), '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no'], { stdio: 'ignore' });
  procs.push(redis);
  await waitFor(() => redisPing(rport), 10000, 'redis-server');

  // the channel's reply endpoint: records and accepts every reply
  const replies = [];
  const sink = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { replies.push(body); res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{}'); });
  });
  const sinkPort = await freePort();
  await new Promise((r) => sink.listen(sinkPort, '127.0.0.1', r));

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = {
    listen: `127.0.0.1:${port}`, data_dir: path.join(dir, 'data'), log_level: 'info',
    redis: { url: `redis://127.0.0.1:${rport}` }, api: { admin_token: ADMIN_TOKEN },
    channels: [{ id: 'demo', connector: 'signed_json',
      options: { secret: SECRET, reply_url: `http://127.0.0.1:${sinkPort}/replies` }, ...channelExtra }],
    ...(typeof extraConfig === 'function' ? extraConfig({ port, base }) : extraConfig),
  };
  const cfgPath = path.join(dir, 'config.json');
  writeFileSync(cfgPath, JSON.stringify(config));
  const log = path.join(dir, 'omnigate.log');
  const { openSync } = await import('node:fs');
  const fd = openSync(log, 'a');
  const daemon = spawn(path.join(BIN, 'bin/omnigate'), ['--config', cfgPath], { stdio: ['ignore', fd, fd] });
  procs.push(daemon);
  try {
    await waitFor(async () => (await fetch(base + '/readyz')).status === 200, 15000, 'omnigate /readyz');
  } catch (e) {
    console.error(readFileSync(log, 'utf8'));
    throw e;
  }

  async function api(method, p, body, token = ADMIN_TOKEN) {
    const r = await fetch(base + '/api/v1' + p, { method, headers: { Authorization: 'Bearer ' + token,
      'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const j = await r.json().catch(() => null);
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(j)}`);
    return j;
  }
  let seq = 0;
  // A customer message through the real connector, signed as signed_json checks it.
  async function customer(userId, name, text) {
    const body = JSON.stringify({ id: `evt-${Date.now()}-${++seq}`, from: { id: userId, name }, text });
    const sig = createHmac('sha256', SECRET).update(body).digest('hex');
    const r = await fetch(base + '/hooks/demo', { method: 'POST', body,
      headers: { 'X-Signature': 'sha256=' + sig, 'Content-Type': 'application/json' } });
    if (r.status !== 200) throw new Error('hook answered ' + r.status);
  }
  function passwd(email, pw) {
    const r = spawnSync(path.join(BIN, 'bin/omnigate'), ['--config', cfgPath, 'passwd', email], { input: pw + '\n' });
    if (r.status !== 0) throw new Error('passwd: ' + r.stderr);
  }
  async function agent(fields, pw) {
    const r = await api('POST', '/agents', fields);
    await api('PUT', `/agents/${r.agent.id}/password`, { password: pw });
    return r.agent;
  }
  async function stop() {
    for (const p of procs.reverse()) {
      if (p.exitCode === null) {
        p.kill('SIGTERM');
        await Promise.race([new Promise((r) => p.once('exit', r)), sleep(5000)]);
        if (p.exitCode === null) p.kill('SIGKILL');
      }
    }
    await new Promise((r) => sink.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
  return { base, api, customer, passwd, agent, replies, stop, dir };
}

export async function launch() {
  const { chromium } = await import('playwright-core');
  mkdirSync(OUT, { recursive: true });
  return chromium.launch({ executablePath: process.env.OG_CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

// Signs in through the page itself.
export async function signIn(page, base, email, pw) {
  await page.goto(base + '/inbox/');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(pw);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.nav .navitem').first().waitFor();
}
