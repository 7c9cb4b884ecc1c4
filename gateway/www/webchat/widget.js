/* omnigate web chat widget (#17) - one tag on any site:
 *   <script src="https://gw.example.com/webchat/widget.js" data-channel="site" async></script>
 * No framework, no build step. Everything lives in the shadow root of one
 * <omnigate-webchat> element, so the host page's CSS cannot reach in and
 * ours cannot leak out; the stylesheet is a constructed one (no inline
 * <style>, so a strict host CSP does not block it). Every text that comes
 * from a visitor or an agent goes into the DOM as a text node, never as
 * markup. The visitor API it talks to is docs/webchat.md.
 *
 * The page may call window.OmnigateChat.open() / .close() (e.g. from its own
 * "Chat with us" button). Kept per channel in localStorage: the visitor's
 * token and the outbox of messages not yet stored (each with its client_id,
 * so a retry is stored once); in sessionStorage: whether the panel was open,
 * so a reload or the next page of the site keeps it open. */
(() => {
  'use strict';
  const me = document.currentScript || [...document.querySelectorAll('script[src*="/webchat/widget.js"]')].pop();
  if (!me || !me.src) return;
  const ROOT = new URL(me.src, location.href).href.replace(/\/webchat\/widget\.js([?#].*)?$/, '');
  const CH = me.getAttribute('data-channel') || '';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(CH)) {
    console.warn('omnigate web chat: the script tag needs data-channel="<channel id>"');
    return;
  }
  if (document.querySelector('omnigate-webchat[data-channel="' + CH + '"]')) return; // included twice
  const API = ROOT + '/webchat/' + encodeURIComponent(CH);
  const KEY = 'og-webchat:' + ROOT + ':' + CH + ':';

  /* ---------- small helpers ---------- */
  // localStorage may be missing or full (private modes): then the widget
  // works for this page view only.
  const store = {
    get(k) { try { return JSON.parse(localStorage.getItem(KEY + k)); } catch (_) { return null; } },
    set(k, v) {
      try { if (v == null) localStorage.removeItem(KEY + k); else localStorage.setItem(KEY + k, JSON.stringify(v)); } catch (_) { /* memory only */ }
    },
  };
  // h('div', {class, text, onclick, ...attrs}, ...children): strings become text nodes.
  const h = (tag, props, ...kids) => {
    const el = document.createElement(tag);
    for (const k in props || {}) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids.flat()) if (c != null && c !== false) el.append(c);
    return el;
  };
  const SVG = 'http://www.w3.org/2000/svg';
  const ICONS = {
    chat: 'M21 11.5a8.4 8.4 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.4 8.4 0 0 1-3.8-.9L3 21l1.9-5.7a8.4 8.4 0 0 1-.9-3.8 8.5 8.5 0 0 1 4.7-7.6 8.4 8.4 0 0 1 3.8-.9h.5a8.5 8.5 0 0 1 8 8z',
    down: 'M6 9l6 6 6-6',
    x: 'M18 6 6 18|M6 6l12 12',
    send: 'M22 2 11 13|M22 2l-7 20-4-9-9-4z',
    clip: 'M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5',
    file: 'M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z|M14 2v6h6',
    alert: 'M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z|M12 8v4|M12 16h.01',
    star: 'M12 2.5l2.9 6 6.6.9-4.8 4.6 1.2 6.5L12 17.4l-5.9 3.1 1.2-6.5-4.8-4.6 6.6-.9z',
    up: 'M7 10v12|M15 5.9 14 10h5.8a2 2 0 0 1 1.9 2.6l-2.3 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.8a2 2 0 0 0 1.8-1.1L12 2a3.1 3.1 0 0 1 3 3.9z',
    downv: 'M17 14V2|M9 18.1 10 14H4.2a2 2 0 0 1-1.9-2.6l2.3-8A2 2 0 0 1 6.5 2H20a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-2.8a2 2 0 0 0-1.8 1.1L12 22a3.1 3.1 0 0 1-3-3.9z',
    mail: 'M4 4h16a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z|M22 6l-10 7L2 6',
    check: 'M20 6 9 17l-5-5',
    exit: 'M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4|M16 17l5-5-5-5|M21 12H9',
  };
  const icon = (name, cls) => {
    const s = document.createElementNS(SVG, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    s.setAttribute('class', 'ic' + (cls ? ' ' + cls : ''));
    for (const d of ICONS[name].split('|')) {
      const p = document.createElementNS(SVG, 'path');
      p.setAttribute('d', d);
      s.append(p);
    }
    return s;
  };
  const uuid = () => {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  };
  const initial = (name) => ((name || '?').trim()[0] || '?').toUpperCase();
  const hhmm = (d) => d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const dayOf = (d) => d.toDateString();
  const dayLabel = (d) => {
    const now = new Date();
    if (dayOf(d) === dayOf(now)) return 'Today';
    if (dayOf(d) === dayOf(new Date(now - 864e5))) return 'Yesterday';
    return d.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });
  };
  const sizeText = (n) => (n < 1024 ? n + ' B' : n < 1048576 ? Math.round(n / 1024) + ' KB'
    : (n / 1048576).toFixed(n < 10485760 ? 1 : 0) + ' MB');
  const utf8len = (s) => new TextEncoder().encode(s).length;
  const FIELD = {
    name: { label: 'Name', type: 'text', auto: 'name' },
    email: { label: 'E-mail', type: 'email', auto: 'email' },
    phone: { label: 'Phone', type: 'tel', auto: 'tel' },
    question: { label: 'How can we help?', area: true },
  };

  /* ---------- the stylesheet ---------- */
  const STYLE = `
:host { all: initial; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.og { --a: #1f6feb; --at: #fff; --ring: rgba(31,111,235,.28); --bg: #fff; --soft: #f4f5f8; --line: #e3e6eb; --text: #1a1d23;
  --muted: #6b7280; --red: #d92d20; --r: 18px;
  font: 14.5px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "DejaVu Sans", Arial, sans-serif;
  color: var(--text); -webkit-font-smoothing: antialiased; text-align: left; letter-spacing: normal; }
button { font: inherit; color: inherit; -webkit-tap-highlight-color: transparent; }
:focus { outline: none; }
:focus-visible { outline: 2px solid var(--a); outline-offset: 2px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.ic { width: 20px; height: 20px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; flex: none; }

/* launcher */
.launcher { position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; width: 60px; height: 60px; border-radius: 50%;
  border: 0; padding: 0; background: var(--a); color: var(--at); cursor: pointer; display: grid; place-items: center;
  box-shadow: 0 8px 24px rgba(15,23,42,.22), 0 2px 6px rgba(15,23,42,.14); transition: transform .18s ease, box-shadow .18s ease; }
.launcher:hover { transform: scale(1.06); box-shadow: 0 10px 28px rgba(15,23,42,.26), 0 2px 6px rgba(15,23,42,.14); }
.launcher:focus-visible { outline: 3px solid var(--ring); outline-offset: 3px; }
.launcher .ic { width: 28px; height: 28px; grid-area: 1 / 1; transition: transform .2s ease, opacity .2s ease; }
.launcher .i-close { opacity: 0; transform: rotate(-60deg) scale(.6); }
.open .launcher .i-open { opacity: 0; transform: rotate(60deg) scale(.6); }
.open .launcher .i-close { opacity: 1; transform: none; }
.badge { position: absolute; top: -3px; right: -3px; min-width: 22px; height: 22px; padding: 0 6px; border-radius: 11px;
  background: var(--red); color: #fff; font-size: 12px; font-weight: 700; line-height: 22px; text-align: center; box-shadow: 0 0 0 2px #fff; }
.left .launcher { right: auto; left: 20px; }
.peek { position: fixed; bottom: 92px; right: 20px; z-index: 2147483000; max-width: 300px; display: grid; gap: 2px; text-align: left;
  background: #fff; border: 1px solid var(--line); border-radius: 16px 16px 4px 16px; padding: 12px 14px; cursor: pointer;
  box-shadow: 0 8px 28px rgba(15,23,42,.16); animation: pop .2s ease-out; }
.left .peek { right: auto; left: 20px; border-radius: 16px 16px 16px 4px; }
.pname { font-size: 12px; font-weight: 650; color: var(--muted); }
.ptext { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden; white-space: pre-wrap; overflow-wrap: anywhere; }

/* panel */
.panel { position: fixed; z-index: 2147483001; bottom: 92px; right: 20px; width: 384px; height: min(660px, calc(100vh - 116px));
  background: var(--bg); border-radius: 18px; display: flex; flex-direction: column; overflow: hidden; overflow: clip; transform-origin: bottom right;
  box-shadow: 0 16px 56px rgba(15,23,42,.22), 0 2px 10px rgba(15,23,42,.08); animation: pop .2s ease-out; }
.left .panel { right: auto; left: 20px; transform-origin: bottom left; }
@keyframes pop { from { opacity: 0; transform: translateY(10px) scale(.98); } }
.head { flex: none; display: flex; align-items: center; gap: 12px; padding: 16px 10px 16px 18px; color: var(--at);
  background: var(--a); background: linear-gradient(135deg, var(--a), color-mix(in srgb, var(--a) 78%, #000)); }
.head .av { width: 40px; height: 40px; border-radius: 50%; background: rgba(255,255,255,.2); display: grid; place-items: center;
  font-weight: 650; font-size: 16px; flex: none; }
.head .av .ic { width: 22px; height: 22px; }
.htext { min-width: 0; flex: 1; }
.head h2 { margin: 0; font-size: 16.5px; font-weight: 650; line-height: 1.25; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.sub { margin: 2px 0 0; font-size: 13px; opacity: .9; display: flex; align-items: center; gap: 6px; }
.dot { width: 8px; height: 8px; border-radius: 50%; background: #34d399; box-shadow: 0 0 0 2px rgba(255,255,255,.35); flex: none; }
.dot.off { background: #cbd2dc; }
.hbtn { border: 0; background: transparent; color: inherit; width: 38px; height: 38px; border-radius: 10px; cursor: pointer;
  display: grid; place-items: center; flex: none; }
.hbtn:hover { background: rgba(255,255,255,.16); }
.head :focus-visible { outline-color: currentColor; }
.confirm { flex: none; display: flex; align-items: center; gap: 8px; padding: 9px 12px 9px 16px; background: #fff; border-bottom: 1px solid var(--line);
  font-size: 13.5px; font-weight: 600; }
.confirm span { flex: 1; }
.btn.sm { width: auto; padding: 6px 12px; font-size: 13px; }
.banner { flex: none; padding: 7px 14px; font-size: 12.5px; text-align: center; background: #fff4e0; color: #7a4b00; border-bottom: 1px solid #f6dfb4; }
.banner.reconnecting { background: #eef2f7; color: #475467; border-color: var(--line); }
.body { flex: 1; min-height: 0; display: flex; flex-direction: column; background: var(--soft); overflow: hidden; overflow: clip; }
.body > * { flex: 1; min-height: 0; }

/* forms */
.pane { overflow-y: auto; padding: 18px 18px 0; display: flex; flex-direction: column; overscroll-behavior: contain; }
.hello { background: #fff; border: 1px solid var(--line); border-radius: 14px; padding: 14px 16px; margin-bottom: 16px;
  box-shadow: 0 1px 2px rgba(15,23,42,.04); }
.hello h3 { margin: 0 0 4px; font-size: 15.5px; font-weight: 650; }
.hello p { margin: 0; color: #3f4653; white-space: pre-wrap; overflow-wrap: anywhere; }
.form { background: #fff; border: 1px solid var(--line); border-radius: 14px; padding: 16px; box-shadow: 0 1px 2px rgba(15,23,42,.04); }
.field { display: grid; gap: 5px; margin-bottom: 12px; }
label { font-size: 13px; font-weight: 600; color: #2b303b; }
.opt { font-weight: 400; color: var(--muted); }
.in { font: inherit; color: var(--text); background: #fff; border: 1px solid #d3d8e0; border-radius: 10px; padding: 9px 12px; width: 100%;
  transition: border-color .15s, box-shadow .15s; }
textarea.in { resize: vertical; min-height: 44px; }
.in:focus { outline: none; border-color: var(--a); box-shadow: 0 0 0 3px var(--ring); }
.in[aria-invalid="true"] { border-color: var(--red); }
.ferr { margin: 0; color: var(--red); font-size: 12.5px; }
.ferr:empty { display: none; }
.ferr.form { margin: 0 0 10px; }
.btn { display: block; width: 100%; border: 0; border-radius: 10px; padding: 11px 16px; background: var(--a); color: var(--at);
  font-weight: 600; cursor: pointer; transition: filter .15s; }
.btn:hover { filter: brightness(1.08); }
.btn:disabled { opacity: .55; cursor: default; filter: none; }
.btn.ghost { width: auto; display: inline-block; background: #fff; color: var(--a); border: 1px solid var(--line); }
.powered { flex: none; margin: auto 0 0; padding: 12px 0 10px; text-align: center; font-size: 11.5px; color: #7b8290; }
.chat .powered { padding: 0 0 8px; background: #fff; }
.center { display: flex; flex-direction: column; align-items: center; justify-content: center; text-align: center; padding: 24px 28px; gap: 4px; }
.center h3 { margin: 8px 0 0; font-size: 17px; }
.center p { margin: 4px 0 16px; color: #4b5260; max-width: 290px; overflow-wrap: anywhere; }
.big { width: 56px; height: 56px; border-radius: 50%; display: grid; place-items: center; background: #fdecea; color: var(--red); }
.big.ok { background: #e7f6ee; color: #12804a; }
.big .ic { width: 28px; height: 28px; }
.spin { width: 30px; height: 30px; border-radius: 50%; border: 3px solid var(--line); border-top-color: var(--a); animation: spin .8s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }

/* conversation */
.chat { display: flex; flex-direction: column; }
.scroll { flex: 1; min-height: 0; overflow-y: auto; padding: 8px 14px 14px; overscroll-behavior: contain; }
.log { display: flex; flex-direction: column; }
.day { align-self: center; margin: 14px 0 2px; font-size: 11.5px; font-weight: 600; color: #6b7280; text-transform: uppercase; letter-spacing: .04em; }
.row { display: flex; align-items: flex-end; gap: 8px; margin-top: 12px; }
.row.cont { margin-top: 3px; }
.row.me { justify-content: flex-end; }
.row .av { width: 28px; height: 28px; border-radius: 50%; background: #dde3ec; color: #3a4353; display: grid; place-items: center;
  font-size: 12.5px; font-weight: 650; flex: none; margin-bottom: 20px; }
.row.cont .av { visibility: hidden; }
.stack { display: flex; flex-direction: column; align-items: flex-start; max-width: 80%; min-width: 0; }
.me .stack { align-items: flex-end; }
.name { font-size: 12px; color: var(--muted); margin: 0 0 3px 12px; }
.cont .name { display: none; }
.bubble { padding: 9px 14px; border-radius: var(--r); max-width: 100%; white-space: pre-wrap; overflow-wrap: anywhere; display: grid; gap: 6px; }
.them .bubble { background: #fff; border: 1px solid var(--line); border-bottom-left-radius: 6px; box-shadow: 0 1px 1px rgba(15,23,42,.03); }
.me .bubble { background: var(--a); color: var(--at); border-bottom-right-radius: 6px; }
.them.cont .bubble { border-top-left-radius: 6px; }
.me.cont .bubble { border-top-right-radius: 6px; }
.bubble a { color: inherit; text-decoration: underline; text-underline-offset: 2px; }
.bubble.media { padding: 0; background: transparent !important; border: 0; box-shadow: none; }
.meta { display: flex; gap: 6px; font-size: 11px; color: #687080; margin: 3px 8px 0; }
.row:has(+ .row.cont) .meta { display: none; }
.row.me .meta .st:not(:empty)::before { content: "\u00b7 "; }
.pending .bubble { opacity: .7; }
.failed .bubble { background: #fdecea; color: #8a1c13; opacity: 1; }
.failed .st { color: var(--red); }
.sys { justify-content: center; }
.sysmsg { max-width: 88%; padding: 6px 12px; border-radius: 12px; background: #e9ecf1; color: #4b5260; font-size: 12.5px; text-align: center;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.row .av.team { background: var(--a); color: var(--at); margin-bottom: 0; }
.av.team .ic { width: 15px; height: 15px; }
.typing .bubble { display: flex; gap: 4px; padding: 13px 14px; }
.typing .bubble i { width: 7px; height: 7px; border-radius: 50%; background: #a3aab6; animation: blink 1.2s infinite ease-in-out; }
.typing .bubble i:nth-child(2) { animation-delay: .15s; }
.typing .bubble i:nth-child(3) { animation-delay: .3s; }
.typing .av { margin-bottom: 0; }
@keyframes blink { 0%, 60%, 100% { opacity: .35; transform: none; } 30% { opacity: 1; transform: translateY(-3px); } }
.thumb { display: block; border: 0; padding: 0; background: none; cursor: zoom-in; border-radius: 14px; overflow: hidden; }
.thumb img { display: block; max-width: 100%; width: auto; max-height: 220px; min-width: 60px; min-height: 40px; background: #e9ecf1; }
.file { display: flex; align-items: center; gap: 10px; border: 0; border-radius: 12px; padding: 8px 12px 8px 8px; background: rgba(15,23,42,.05);
  cursor: pointer; text-align: left; min-width: 0; max-width: 100%; }
.me .file { background: rgba(255,255,255,.18); }
.file.up { cursor: default; }
.ficon { width: 34px; height: 34px; border-radius: 9px; display: grid; place-items: center; background: rgba(15,23,42,.08); flex: none; }
.me .ficon { background: rgba(255,255,255,.2); }
.fname { display: grid; min-width: 0; }
.fname b { font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.fname small { font-size: 11.5px; opacity: .8; }
.card { width: 100%; max-width: 300px; margin: 4px auto 0; background: #fff; border: 1px solid var(--line); border-radius: 16px; padding: 16px;
  text-align: center; box-shadow: 0 2px 8px rgba(15,23,42,.06); display: grid; gap: 8px; justify-items: center; }
.card .q { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.card .in { text-align: left; }
.scale { display: flex; gap: 4px; justify-content: center; }
.rate { width: 42px; height: 42px; border: 0; border-radius: 10px; background: transparent; color: #c5cbd5; cursor: pointer; display: grid; place-items: center;
  transition: transform .12s, color .12s; }
.rate .ic { width: 30px; height: 30px; }
.rate:hover { transform: scale(1.12); }
.star.on { color: #f5a524; }
.star.on .ic { fill: currentColor; }
.thumb2 { width: 52px; height: 52px; margin: 0 5px; border: 1px solid var(--line); border-radius: 14px; color: #7b8392; }
.thumb2 .ic { width: 26px; height: 26px; }
.thumb2.on { color: var(--at); background: var(--a); border-color: var(--a); }
.hint { margin: -4px 0 0; min-height: 18px; font-size: 12.5px; color: var(--muted); }
.card.done { gap: 10px; padding: 18px 16px; }

/* composer */
.composer { flex: none; background: #fff; border-top: 1px solid var(--line); padding: 10px 10px 8px 14px; }
.composer.drag { box-shadow: inset 0 0 0 2px var(--a); }
.cbox { display: flex; align-items: flex-end; gap: 2px; }
.msg { flex: 1; min-width: 0; border: 0; resize: none; background: transparent; font: inherit; color: var(--text); padding: 9px 4px;
  min-height: 40px; max-height: 140px; outline: none; line-height: 1.45; }
.msg::placeholder { color: #9aa1ad; }
.ibtn { width: 38px; height: 38px; border: 0; border-radius: 10px; background: transparent; color: #7b8392; cursor: pointer; display: grid;
  place-items: center; flex: none; }
.ibtn:hover { background: var(--soft); color: var(--text); }
.ibtn.send { border-radius: 50%; background: var(--a); color: var(--at); margin-left: 4px; }
.ibtn.send .ic { width: 18px; height: 18px; margin: 1px 1px 0 0; }
.ibtn.send:disabled { opacity: .35; cursor: default; }
.ibtn.sm { width: 26px; height: 26px; margin-left: auto; color: inherit; }
.ibtn.sm .ic { width: 16px; height: 16px; }
.alert { display: flex; align-items: center; gap: 8px; margin: 0 0 8px -4px; padding: 7px 8px 7px 10px; border-radius: 10px;
  background: #fdecea; color: #8a1c13; font-size: 13px; overflow-wrap: anywhere; }
.alert > .ic { width: 18px; height: 18px; }

/* phones: the panel takes the whole screen */
@media (max-width: 520px), (max-height: 520px) {
  .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; animation: none; }
  .left .panel { left: 0; }
  .open .launcher, .open .peek { display: none; }
  .head { padding-top: max(14px, env(safe-area-inset-top)); }
  .composer { padding-bottom: max(8px, env(safe-area-inset-bottom)); }
  .msg, .in { font-size: 16px; }
  .peek { max-width: calc(100vw - 40px); }
}
@media (prefers-reduced-motion: reduce) {
  .panel, .peek, .launcher, .launcher .ic, .typing .bubble i { animation: none; transition: none; }
}
`;

  /* ---------- the visitor API ---------- */
  // Errors carry .status (undefined for a network failure), .code, .retry (ms).
  async function req(method, path, body, opts = {}) {
    const headers = Object.assign({}, opts.headers);
    if (S.token && !opts.anon) headers.Authorization = 'Bearer ' + S.token;
    let data = body;
    if (body !== undefined && !opts.raw) {
      headers['Content-Type'] = 'application/json';
      data = JSON.stringify(body);
    }
    const r = await fetch(API + path, { method, headers, body: data, mode: 'cors', credentials: 'omit', cache: 'no-store' });
    let j = null;
    if (r.status !== 204) try { j = await r.json(); } catch (_) { /* not JSON */ }
    if (!r.ok) {
      const e = new Error((j && j.error && j.error.message) || 'HTTP ' + r.status);
      e.status = r.status;
      e.code = j && j.error && j.error.code;
      e.retry = (parseInt(r.headers.get('Retry-After'), 10) || 0) * 1000;
      throw e;
    }
    return j;
  }

  /* ---------- state ---------- */
  const S = {
    cfg: null, cfgAt: 0, token: store.get('token'), session: null, agent: null,
    open: false, view: '', unread: 0,
    rows: new Map(),    // message id -> row element
    pending: new Map(), // client_id -> row element of a message not yet stored
    lastId: null,       // newest message id seen via history, stream or catch-up
    eventId: null,      // the stream's Last-Event-ID
    stream: null, conn: 'idle', backoff: 0, retryT: 0, lastData: 0,
    flushing: false, flushT: 0, readT: 0, readSent: null,
    typingOn: false, typingAt: 0, typingT: 0, theirTypingT: 0,
    closedShown: false, // the closing line (and survey) of the current conversation is shown
  };
  const outbox = () => store.get('outbox') || [];
  const setOutbox = (v) => store.set('outbox', v.length ? v : null);

  /* ---------- the shell ---------- */
  const host = document.createElement('omnigate-webchat');
  host.setAttribute('data-channel', CH);
  const shadow = host.attachShadow({ mode: 'open' });
  if (shadow.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(h('style', { text: STYLE }));
  }
  const ui = {};
  ui.root = h('div', { class: 'og right' });
  ui.title = h('h2', { id: 'og-title', text: 'Chat' });
  ui.sub = h('p', { class: 'sub' });
  ui.av = h('div', { class: 'av', 'aria-hidden': 'true' }, icon('chat'));
  ui.banner = h('div', { class: 'banner', role: 'status', hidden: true });
  ui.body = h('div', { class: 'body' });
  ui.panel = h('section', { class: 'panel', role: 'dialog', 'aria-labelledby': 'og-title', id: 'og-panel', tabindex: '-1', hidden: true },
    h('header', { class: 'head' }, ui.av, h('div', { class: 'htext' }, ui.title, ui.sub),
      ui.end = h('button', { class: 'hbtn', type: 'button', hidden: true, 'aria-label': 'End the conversation', title: 'End the conversation',
        onclick: () => askEnd(true) }, icon('exit')),
      h('button', { class: 'hbtn', type: 'button', 'aria-label': 'Minimize the chat', onclick: () => setOpen(false) }, icon('down'))),
    ui.confirm = h('div', { class: 'confirm', role: 'group', 'aria-label': 'End the conversation', hidden: true },
      h('span', { text: 'End this conversation?' }),
      h('button', { class: 'btn ghost sm', type: 'button', onclick: () => askEnd(false), text: 'Cancel' }),
      h('button', { class: 'btn sm', type: 'button', onclick: endChat, text: 'End it' })),
    ui.banner, ui.body);
  ui.badge = h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
  ui.launcher = h('button', { class: 'launcher', type: 'button', 'aria-label': 'Open the chat', 'aria-expanded': 'false',
    'aria-controls': 'og-panel', onclick: () => setOpen(!S.open) }, icon('chat', 'i-open'), icon('x', 'i-close'), ui.badge);
  ui.peek = h('button', { class: 'peek', type: 'button', hidden: true, onclick: () => setOpen(true) });
  ui.root.append(ui.panel, ui.peek, ui.launcher);
  shadow.append(ui.root);
  // Full screen (phones) the page behind is covered, so Tab cycles inside.
  const FULL = matchMedia('(max-width: 520px), (max-height: 520px)');
  // Focus moves could scroll the panel itself (header out of view): only
  // its inner parts scroll.
  for (const el of [ui.panel, ui.body]) el.addEventListener('scroll', () => { el.scrollTop = 0; });
  ui.panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !e.defaultPrevented) { e.preventDefault(); setOpen(false); return; }
    if (e.key !== 'Tab' || !FULL.matches) return;
    const all = [...ui.panel.querySelectorAll('button, textarea, input, a[href], [tabindex="0"]')]
      .filter((el) => !el.disabled && el.tabIndex >= 0 && el.getClientRects().length);
    if (!all.length) return;
    const first = all[0], last = all[all.length - 1], at = shadow.activeElement;
    if (e.shiftKey && (at === first || at === ui.panel)) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && at === last) { e.preventDefault(); first.focus(); }
  });

  function setOpen(open, quiet) {
    S.open = open;
    ui.panel.hidden = !open;
    ui.root.classList.toggle('open', open);
    ui.launcher.setAttribute('aria-expanded', String(open));
    ui.launcher.setAttribute('aria-label', open ? 'Close the chat' : 'Open the chat');
    try { sessionStorage.setItem(KEY + 'open', open ? '1' : ''); } catch (_) { /* fine */ }
    if (open) {
      S.unread = 0;
      badge();
      ui.peek.hidden = true;
      if (S.view === 'error') boot();
      else if (Date.now() - S.cfgAt > 60000 && (S.view === 'prechat' || S.view === 'offline')) recheck();
      if (S.view === 'chat') { toBottom(true); markRead(); }
      if (!quiet) focusView();
    } else if (!quiet) {
      ui.launcher.focus();
    }
  }
  function focusView() {
    // On touch screens the keyboard would cover half the chat: focus the dialog itself.
    const coarse = matchMedia('(pointer: coarse)').matches;
    const f = !coarse && ui.body.querySelector('[data-autofocus]');
    (f || ui.panel).focus({ preventScroll: true });
  }
  function badge() {
    ui.badge.hidden = !S.unread;
    ui.badge.textContent = S.unread > 9 ? '9+' : String(S.unread);
    ui.launcher.setAttribute('aria-label', S.open ? 'Close the chat'
      : S.unread ? `Open the chat (${S.unread} new ${S.unread === 1 ? 'message' : 'messages'})` : 'Open the chat');
  }

  function applyTheme() {
    const t = (S.cfg && S.cfg.theme) || {};
    const c = /^#[0-9a-fA-F]{6}$/.test(t.color || '') ? t.color : '#1f6feb';
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
    const lum = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    ui.root.style.setProperty('--a', c);
    ui.root.style.setProperty('--at', lum > 0.62 ? '#14161a' : '#ffffff');
    ui.root.style.setProperty('--ring', `rgba(${r},${g},${b},.28)`);
    ui.root.classList.toggle('left', t.position === 'left');
    ui.root.classList.toggle('right', t.position !== 'left');
    ui.title.textContent = (S.cfg && S.cfg.title) || 'Chat with us';
    header();
  }
  function header() {
    const open = S.view === 'chat' && S.session && S.session.status !== 'closed';
    ui.end.hidden = !open;
    if (!open) ui.confirm.hidden = true;
    ui.sub.textContent = '';
    ui.av.textContent = '';
    if (S.agent && S.agent.name) {
      ui.av.append(initial(S.agent.name));
      ui.sub.append(h('span', { class: 'dot' }), S.agent.name);
    } else if (S.view === 'error') {
      ui.av.append(icon('chat'));
      ui.sub.append('Not available');
    } else {
      ui.av.append(icon('chat'));
      const on = !S.cfg || S.cfg.online;
      ui.sub.append(h('span', { class: on ? 'dot' : 'dot off' }), on ? 'We reply in a few minutes' : 'We are away right now');
    }
  }

  /* ---------- views ---------- */
  function setView(v, node) {
    S.view = v;
    ui.root.setAttribute('data-view', v);
    host.setAttribute('data-state', v);
    ui.body.textContent = '';
    ui.body.append(node);
    header();
    if (S.open) focusView();
  }

  function loadingView() {
    setView('loading', h('div', { class: 'center' }, h('div', { class: 'spin', role: 'progressbar', 'aria-label': 'Loading' })));
  }

  function errorView(text) {
    setView('error', h('div', { class: 'center errv' }, h('div', { class: 'big' }, icon('alert')),
      h('h3', { text: 'Chat unavailable' }),
      h('p', { text: text || 'The chat cannot be used on this page right now.' }),
      h('button', { class: 'btn ghost', type: 'button', 'data-autofocus': true, onclick: boot }, 'Try again')));
  }

  // A labelled field; returns {wrap, input, err}.
  function field(name, required, idp) {
    const f = FIELD[name] || { label: name, type: 'text' };
    const id = idp + name;
    const input = f.area
      ? h('textarea', { class: 'in', id, name, rows: '3', maxlength: '4096' })
      : h('input', { class: 'in', id, name, type: f.type, autocomplete: f.auto, maxlength: '200' });
    if (required) input.required = true;
    const err = h('p', { class: 'ferr', id: id + '-err', 'aria-live': 'polite' });
    input.setAttribute('aria-describedby', err.id);
    input.addEventListener('input', () => { if (err.textContent) fieldError({ input, err }, ''); });
    return { name, required, input, err,
      wrap: h('div', { class: 'field' }, h('label', { for: id }, f.label, required ? null : h('span', { class: 'opt', text: ' (optional)' })), input, err) };
  }
  function check(fields) {
    let bad = null;
    for (const f of fields) {
      const v = f.input.value.trim();
      let msg = '';
      if (f.required && !v) msg = 'Please fill this in.';
      else if (v && f.name === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) msg = 'Please enter a valid e-mail address.';
      else if (v && f.name === 'phone' && !/^\+?[0-9 ()./-]{5,25}$/.test(v)) msg = 'Please enter a valid phone number.';
      fieldError(f, msg);
      if (msg && !bad) bad = f;
    }
    if (bad) bad.input.focus();
    return !bad;
  }
  function fieldError(f, msg) {
    f.err.textContent = msg;
    if (msg) f.input.setAttribute('aria-invalid', 'true');
    else f.input.removeAttribute('aria-invalid');
  }
  // A 400 names the field ("email is required"): put it under that field.
  function serverError(fields, formErr, e) {
    const hit = fields.find((f) => e.status === 400 && new RegExp('\\b' + f.name + '\\b', 'i').test(e.message));
    if (hit) { fieldError(hit, e.message); hit.input.focus(); return; }
    formErr.textContent = e.status === 429 ? 'Too many attempts, please wait a moment.'
      : e.status ? e.message : 'No connection. Please check your network and try again.';
  }
  function busy(btn, on, text) {
    btn.disabled = on;
    btn.textContent = on ? 'One moment\u2026' : text;
  }

  function prechatView() {
    const cfg = S.cfg;
    const fields = cfg.pre_chat.fields.map((f) => field(f.name, !!f.required, 'og-pc-'));
    const formErr = h('p', { class: 'ferr form', role: 'alert' });
    const submit = h('button', { class: 'btn', type: 'submit', text: 'Start the chat' });
    if (fields[0]) fields[0].input.setAttribute('data-autofocus', '');
    const form = h('form', { class: 'form', novalidate: true, 'aria-label': 'Start a chat' }, fields.map((f) => f.wrap), formErr, submit);
    const q = fields.find((f) => f.name === 'question');
    if (q) q.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      formErr.textContent = '';
      if (!check(fields)) return;
      const body = {};
      for (const f of fields) if (f.input.value.trim()) body[f.name] = f.input.value.trim();
      busy(submit, true);
      try {
        enterChat(await req('POST', '/start', body, { anon: true }));
      } catch (err) {
        busy(submit, false, 'Start the chat');
        serverError(fields, formErr, err);
      }
    });
    setView('prechat', h('div', { class: 'pane' },
      h('div', { class: 'hello' }, h('h3', { text: 'Hi there!' }), h('p', { text: cfg.opening_text || 'Ask us anything, we are happy to help.' })),
      form, powered()));
  }

  function offlineView() {
    const cfg = S.cfg;
    const fields = [field('name', false, 'og-off-'), field('email', true, 'og-off-'), field('text', true, 'og-off-')];
    fields[2].wrap.firstChild.textContent = 'Your message';
    fields[2].wrap.replaceChild(fields[2].input = h('textarea', { class: 'in', id: 'og-off-text', name: 'text', rows: '4', maxlength: '4096', required: true,
      'aria-describedby': 'og-off-text-err' }), fields[2].wrap.children[1]);
    fields[0].input.setAttribute('data-autofocus', '');
    const formErr = h('p', { class: 'ferr form', role: 'alert' });
    const submit = h('button', { class: 'btn', type: 'submit', text: 'Send the message' });
    const form = h('form', { class: 'form', novalidate: true, 'aria-label': 'Leave a message' }, fields.map((f) => f.wrap), formErr, submit);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      formErr.textContent = '';
      if (!check(fields)) return;
      const body = { email: fields[1].input.value.trim(), text: fields[2].input.value.trim() };
      if (fields[0].input.value.trim()) body.name = fields[0].input.value.trim();
      if (S.token) body.token = S.token; // a returning visitor: the same contact
      busy(submit, true);
      try {
        const r = await req('POST', '/offline', body, { anon: !S.token });
        saveToken(r.token);
        setView('sent', h('div', { class: 'center sentv' }, h('div', { class: 'big ok' }, icon('mail')),
          h('h3', { text: 'Message sent' }),
          h('p', {}, 'Thank you! We will answer as soon as we are back, by e-mail to ', h('b', { text: body.email }), ' and right here.'),
          h('button', { class: 'btn ghost', type: 'button', 'data-autofocus': true, onclick: resume, text: 'Show the conversation' })));
      } catch (err) {
        busy(submit, false, 'Send the message');
        serverError(fields, formErr, err);
      }
    });
    setView('offline', h('div', { class: 'pane' },
      h('div', { class: 'hello' }, h('h3', { text: 'We are away' }),
        h('p', { text: cfg.offline_text || 'Nobody is online right now. Leave us a message and we will get back to you by e-mail.' })),
      form, powered()));
  }

  const powered = () => h('p', { class: 'powered' }, 'Powered by omnigate');

  /* ---------- the conversation ---------- */
  const chat = {};
  function buildChat() {
    chat.log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
    chat.typingText = h('span', { class: 'sr' });
    chat.typingAv = h('div', { class: 'av' });
    chat.typing = h('div', { class: 'row them typing', hidden: true, 'aria-live': 'polite' }, chat.typingAv,
      h('div', { class: 'stack' }, h('div', { class: 'bubble', 'aria-hidden': 'true' }, h('i'), h('i'), h('i'))), chat.typingText);
    chat.scroll = h('div', { class: 'scroll' }, chat.log, chat.typing);
    chat.alert = h('div', { class: 'alert', role: 'alert', hidden: true });
    chat.input = h('textarea', { class: 'msg', rows: '1', 'aria-label': 'Message', placeholder: 'Write a message\u2026', 'data-autofocus': true,
      maxlength: '4096' });
    chat.file = h('input', { type: 'file', hidden: true, tabindex: '-1', 'aria-hidden': 'true' });
    chat.attach = h('button', { class: 'ibtn', type: 'button', 'aria-label': 'Attach a file', onclick: () => chat.file.click() }, icon('clip'));
    chat.send = h('button', { class: 'ibtn send', type: 'submit', 'aria-label': 'Send', disabled: true }, icon('send'));
    chat.form = h('form', { class: 'composer' }, chat.alert, h('div', { class: 'cbox' }, chat.input, chat.attach, chat.send, chat.file));
    chat.node = h('div', { class: 'chat' }, chat.scroll, chat.form, powered());
    chat.input.addEventListener('input', () => {
      chat.input.style.height = 'auto';
      chat.input.style.height = Math.min(chat.input.scrollHeight, 140) + 'px';
      chat.send.disabled = !chat.input.value.trim();
      typing(!!chat.input.value.trim());
    });
    chat.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); chat.form.requestSubmit(); }
    });
    chat.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = chat.input.value.trim();
      if (!text) return;
      if (utf8len(text) > 4096) { showAlert('This message is too long, please split it.'); return; }
      chat.input.value = '';
      chat.input.style.height = '';
      chat.send.disabled = true;
      hideAlert();
      send(text);
      chat.input.focus();
    });
    chat.file.addEventListener('change', () => { const f = chat.file.files[0]; chat.file.value = ''; if (f) upload(f); });
    chat.node.addEventListener('dragover', (e) => { if (S.cfg && attachTypes().length) { e.preventDefault(); chat.form.classList.add('drag'); } });
    chat.node.addEventListener('dragleave', () => chat.form.classList.remove('drag'));
    chat.node.addEventListener('drop', (e) => {
      chat.form.classList.remove('drag');
      const f = e.dataTransfer && e.dataTransfer.files[0];
      if (f) { e.preventDefault(); upload(f); }
    });
    chat.input.addEventListener('paste', (e) => {
      const f = e.clipboardData && e.clipboardData.files[0];
      if (f) { e.preventDefault(); upload(f); }
    });
  }
  function showAlert(text) {
    chat.alert.textContent = '';
    chat.alert.append(icon('alert'), h('span', { text }),
      h('button', { class: 'ibtn sm', type: 'button', 'aria-label': 'Dismiss', onclick: hideAlert }, icon('x')));
    chat.alert.hidden = false;
  }
  function hideAlert() { chat.alert.hidden = true; }
  const attachTypes = () => ((S.cfg && S.cfg.attachments && S.cfg.attachments.types) || []);

  function resetChat() {
    if (!chat.node) buildChat();
    chat.log.textContent = '';
    S.rows.clear();
    S.pending.clear();
    S.lastId = null;
    S.closedShown = false;
    chat.lastDay = null;
    chat.attach.hidden = !attachTypes().length;
    chat.file.accept = attachTypes().join(',');
    if (S.cfg && S.cfg.opening_text) greeting(S.cfg.opening_text);
  }
  function showChat() {
    setView('chat', chat.node);
    toBottom(true);
  }
  // A start/resume answer: {token, session, messages}.
  function enterChat(r) {
    saveToken(r.token);
    S.session = r.session || null;
    S.agent = (r.session && r.session.agent) || null;
    resetChat();
    for (const m of r.messages || []) add(m, true);
    for (const it of outbox()) if (!S.pending.has(it.client_id)) pendingRow(it);
    if (S.session && S.session.status === 'closed') closedRow(null, !S.session.csat);
    showChat();
    connect();
    flush();
  }
  function saveToken(t) {
    if (!t || t === S.token) return;
    S.token = t;
    store.set('token', t);
  }
  function forget() {
    abortStream();
    S.token = null;
    S.session = null;
    S.agent = null;
    store.set('token', null);
    store.set('outbox', null);
  }

  function nearBottom() { return chat.scroll.scrollHeight - chat.scroll.scrollTop - chat.scroll.clientHeight < 80; }
  function toBottom(force) {
    if (!chat.scroll) return;
    if (force || nearBottom()) requestAnimationFrame(() => { chat.scroll.scrollTop = chat.scroll.scrollHeight; });
  }

  // Text with http(s) links made clickable; everything else stays text.
  function rich(text) {
    const out = h('div', { class: 'text' });
    const re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
    let at = 0;
    for (let m; (m = re.exec(text));) {
      out.append(text.slice(at, m.index), h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer nofollow', text: m[0] }));
      at = m.index + m[0].length;
    }
    out.append(text.slice(at));
    return out;
  }
  function who(m) {
    if (m.sender && m.sender.type === 'system') return 'sys';
    return m.direction === 'in' ? 'me' : 'them';
  }
  // A local line (joined, closed): after everything shown so far, so a
  // clock difference between the visitor and the server cannot reorder it.
  function sysRow(text, cls) {
    const row = h('div', { class: 'row sys' + (cls ? ' ' + cls : '') }, h('div', { class: 'sysmsg', text }));
    const last = chat.log.lastElementChild;
    const lt = last ? +last.dataset.t : 0;
    place(row, lt > 1 ? lt : Date.now(), true);
    return row;
  }
  // The opening text, as a first message from the team; always on top.
  function greeting(text) {
    const name = (S.cfg && S.cfg.title) || 'Support';
    chat.log.append(h('div', { class: 'row them greet', 'data-t': '0' }, h('div', { class: 'av team', 'aria-hidden': 'true' }, icon('chat')),
      h('div', { class: 'stack' }, h('div', { class: 'name', text: name }), h('div', { class: 'bubble' }, rich(text)))));
  }
  // Inserts a row in time order (a catch-up may bring older messages than
  // one just sent), with a day separator when the day changes at the end.
  function place(row, t, atEnd) {
    row.dataset.t = String(t);
    const d = new Date(t);
    let before = null;
    if (!atEnd) {
      for (let r = chat.log.lastElementChild; r && r.dataset.t && +r.dataset.t > t; r = r.previousElementSibling) before = r;
    }
    if (!before && chat.lastDay !== dayOf(d)) {
      // the first day's label goes above the greeting, which belongs to it
      const first = chat.lastDay == null && chat.log.firstElementChild;
      chat.lastDay = dayOf(d);
      const label = h('div', { class: 'day', 'data-t': '0', text: dayLabel(d) });
      if (first && first.classList.contains('greet')) chat.log.insertBefore(label, first);
      else { label.dataset.t = String(t); chat.log.append(label); }
    }
    chat.log.insertBefore(row, before);
    // consecutive messages of one sender within 3 minutes form a group
    const prev = row.previousElementSibling;
    const key = row.dataset.who;
    row.classList.toggle('cont', !!(prev && key && prev.dataset.who === key && t - +prev.dataset.t < 180000));
    const next = row.nextElementSibling;
    if (next && next.dataset.who) next.classList.toggle('cont', next.dataset.who === key && +next.dataset.t - t < 180000);
  }
  function msgRow(m, status) {
    const w = who(m);
    const t = Date.parse(m.created_at) || Date.now();
    if (w === 'sys') {
      const row = h('div', { class: 'row sys', 'data-id': m.id }, h('div', { class: 'sysmsg', text: m.text || '' }));
      return { row, t };
    }
    const name = (m.sender && m.sender.name) || (w === 'me' ? 'You' : 'Support');
    const bubble = h('div', { class: 'bubble' });
    const atts = m.attachments || [];
    for (const a of atts) bubble.append(attachment(a));
    if (m.text) bubble.append(rich(m.text));
    if (atts.length && !m.text && atts.every((a) => /^image\//.test(a.type))) bubble.classList.add('media');
    const meta = h('div', { class: 'meta' }, h('time', { datetime: new Date(t).toISOString(), text: hhmm(new Date(t)) }));
    if (w === 'me') meta.append(h('span', { class: 'st', text: status || '' }));
    const row = h('div', { class: 'row ' + w, 'data-id': m.id || null, 'data-who': w === 'me' ? 'me' : 'a:' + name },
      w === 'them' ? h('div', { class: 'av', 'aria-hidden': 'true', text: initial(name) }) : null,
      h('div', { class: 'stack' }, w === 'them' ? h('div', { class: 'name', text: name }) : null,
        h('span', { class: 'sr', text: w === 'me' ? 'You said:' : name + ' said:' }), bubble, meta));
    return { row, t };
  }
  // A stored message: from history, the stream, a catch-up or a POST answer.
  // `ordered` = it came in order after S.lastId (not a POST answer).
  function add(m, ordered) {
    if (!m || !m.id) return;
    if (ordered) S.lastId = m.id;
    // stored: whatever carried it (history, stream, answer), it leaves the outbox
    const old = m.client_id && S.pending.get(m.client_id);
    if (m.client_id && outbox().some((x) => x.client_id === m.client_id)) setOutbox(outbox().filter((x) => x.client_id !== m.client_id));
    if (old) S.pending.delete(m.client_id);
    if (S.rows.has(m.id)) { if (old) old.remove(); return; }
    const { row, t } = msgRow(m);
    if (old) {
      row.dataset.t = old.dataset.t;
      row.className = old.className.replace(/\b(pending|failed)\b/g, '').trim();
      old.replaceWith(row);
    } else {
      place(row, t);
    }
    S.rows.set(m.id, row);
    if (who(m) !== 'sys' && !row.nextElementSibling) S.closedShown = false; // a new conversation after the closing line
    if (who(m) === 'them' && ordered === 'live') {
      theirTyping(false);
      if (!S.open || document.hidden) { S.unread++; badge(); if (!S.open) peek(m); } else markRead();
    }
    toBottom(who(m) === 'me');
  }
  function pendingRow(it) {
    const { row } = msgRow({ direction: 'in', kind: 'text', text: it.text, created_at: it.at, sender: { type: 'contact' } }, 'Sending\u2026');
    row.classList.add('pending');
    place(row, Date.parse(it.at) || Date.now(), true);
    S.pending.set(it.client_id, row);
    toBottom(true);
    return row;
  }
  function pendingState(cid, text, failed) {
    const row = S.pending.get(cid);
    if (!row) return;
    row.querySelector('.st').textContent = text;
    row.classList.toggle('failed', !!failed);
  }
  function peek(m) {
    if (!m.text) return;
    ui.peek.textContent = '';
    ui.peek.append(h('span', { class: 'pname', text: (m.sender && m.sender.name) || 'Support' }),
      h('span', { class: 'ptext', text: m.text.length > 140 ? m.text.slice(0, 140) + '\u2026' : m.text }));
    ui.peek.setAttribute('aria-label', 'New message from ' + ((m.sender && m.sender.name) || 'support') + ', open the chat');
    ui.peek.hidden = false;
  }

  function attachment(a) {
    const url = ROOT + a.url;
    if (/^image\//.test(a.type)) {
      const img = h('img', { alt: a.name || 'image', loading: 'lazy' });
      const btn = h('button', { class: 'thumb', type: 'button', 'aria-label': 'Open the image ' + (a.name || ''),
        onclick: () => blob(url).then((u) => window.open(u, '_blank', 'noopener')).catch(() => {}) }, img);
      blob(url).then((u) => { img.src = u; img.addEventListener('load', () => toBottom(), { once: true }); })
        .catch(() => { img.alt = (a.name || 'image') + ' (could not be loaded)'; });
      return btn;
    }
    return h('button', { class: 'file', type: 'button', 'aria-label': 'Download ' + (a.name || 'the file'),
      onclick: () => blob(url).then((u) => { const l = h('a', { href: u, download: a.name || 'file' }); shadow.append(l); l.click(); l.remove(); })
        .catch(() => showAlert('The file could not be downloaded.')) },
    h('span', { class: 'ficon' }, icon('file')), h('span', { class: 'fname' }, h('b', { text: a.name || 'file' }), h('small', { text: sizeText(a.size || 0) })));
  }
  // Attachments need the token, so an <img src> cannot fetch them directly.
  const blobs = new Map();
  function blob(url) {
    if (!blobs.has(url)) {
      blobs.set(url, fetch(url, { headers: { Authorization: 'Bearer ' + S.token }, credentials: 'omit' })
        .then((r) => { if (!r.ok) throw new Error(String(r.status)); return r.blob(); })
        .then((b) => URL.createObjectURL(b))
        .catch((e) => { blobs.delete(url); throw e; }));
    }
    return blobs.get(url);
  }

  function closedRow(text, survey) {
    if (S.session) S.session.status = 'closed';
    header();
    if (S.closedShown) return;
    S.closedShown = true;
    theirTyping(false);
    sysRow(text || (S.cfg && S.cfg.closing_text) || 'This conversation has been closed.', 'closed');
    if (survey && S.cfg && S.cfg.csat && S.cfg.csat.enabled && !chat.log.querySelector('.survey:not(.done)')) surveyCard();
    toBottom(true);
  }
  function surveyCard() {
    const cs = S.cfg.csat;
    const scale = cs.scale === 2 ? 2 : 5;
    const labels = scale === 2 ? ['Bad', 'Good'] : ['Terrible', 'Bad', 'Okay', 'Good', 'Great'];
    let score = 0;
    const hint = h('p', { class: 'hint', 'aria-hidden': 'true' });
    const btns = labels.map((l, i) => h('button', { class: scale === 2 ? 'rate thumb2' : 'rate star', type: 'button', 'aria-pressed': 'false',
      'aria-label': scale === 2 ? l : `${i + 1} of 5, ${l}`, 'data-v': String(i + 1), onclick: () => pick(i + 1) },
    icon(scale === 2 ? (i ? 'up' : 'downv') : 'star')));
    const paint = (v) => {
      btns.forEach((b, i) => b.classList.toggle('on', scale === 2 ? i + 1 === v : i < v));
      hint.textContent = v ? labels[v - 1] : '';
    };
    const group = h('div', { class: 'scale', role: 'group', 'aria-label': cs.question || 'How would you rate this conversation?' }, btns);
    group.addEventListener('pointerover', (e) => { const b = e.target.closest('button'); if (b) paint(+b.dataset.v); });
    group.addEventListener('pointerleave', () => paint(score));
    const comment = cs.comment ? h('textarea', { class: 'in', rows: '2', maxlength: '1000', 'aria-label': 'Comment (optional)', placeholder: 'Tell us more (optional)' }) : null;
    const submit = h('button', { class: 'btn', type: 'submit', disabled: true, text: 'Send rating' });
    const err = h('p', { class: 'ferr', role: 'alert' });
    const card = h('form', { class: 'card survey', 'aria-label': 'Rate the conversation' },
      h('p', { class: 'q', text: cs.question || 'How would you rate this conversation?' }), group, hint, comment, err, submit);
    function pick(v) {
      score = v;
      paint(v);
      btns.forEach((b, i) => b.setAttribute('aria-pressed', String(i + 1 === v)));
      submit.disabled = false;
    }
    card.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!score) return;
      const body = { score };
      if (comment && comment.value.trim()) body.comment = comment.value.trim();
      busy(submit, true);
      err.textContent = '';
      try {
        await req('POST', '/csat', body);
      } catch (x) {
        if (x.status !== 409) { busy(submit, false, 'Send rating'); err.textContent = x.status ? x.message : 'No connection, please try again.'; return; }
      }
      card.textContent = '';
      card.classList.add('done');
      card.append(h('div', { class: 'big ok' }, icon('check')), h('p', { class: 'q', text: cs.thanks || 'Thank you for your feedback!' }));
      card.setAttribute('tabindex', '-1');
      card.focus({ preventScroll: true });
    });
    const row = h('div', { class: 'row sys' }, card);
    place(row, Date.now(), true);
  }

  /* ---------- sending ---------- */
  function send(text) {
    const it = { client_id: uuid(), text, at: new Date().toISOString() };
    setOutbox(outbox().concat(it));
    pendingRow(it);
    typing(false);
    flush();
  }
  // Sends the outbox in order; each item carries its client_id, so a retry
  // after a lost answer is stored once.
  async function flush() {
    if (S.flushing) return;
    S.flushing = true;
    clearTimeout(S.flushT);
    try {
      for (let guard = 0; guard < 200; guard++) {
        const it = outbox()[0];
        if (!it) break;
        if (!navigator.onLine) { for (const x of outbox()) pendingState(x.client_id, 'Waiting for the network\u2026'); break; }
        if (!S.token && !(await lazyStart())) break;
        try {
          const r = await req('POST', '/messages', { text: it.text, client_id: it.client_id });
          setOutbox(outbox().filter((x) => x.client_id !== it.client_id));
          add(r.message);
          if (!S.session || S.session.status === 'closed') { S.session = Object.assign({}, S.session, { status: 'queued' }); header(); }
        } catch (e) {
          if (e.status === 401) { pendingState(it.client_id, 'Not sent', true); forget(); boot(); break; }
          if (e.status && e.status !== 429 && e.status < 500) {
            pendingState(it.client_id, 'Not sent: ' + e.message, true);
            setOutbox(outbox().filter((x) => x.client_id !== it.client_id));
            continue;
          }
          pendingState(it.client_id, 'Sending\u2026');
          S.flushT = setTimeout(flush, Math.max(e.retry || 0, 3000));
          break;
        }
      }
    } finally {
      S.flushing = false;
    }
  }
  // No pre-chat form: the conversation starts with the first message.
  async function lazyStart() {
    try {
      const r = await req('POST', '/start', {}, { anon: true });
      saveToken(r.token);
      S.session = r.session || null;
      for (const m of r.messages || []) add(m, true);
      connect();
      return true;
    } catch (e) {
      S.flushT = setTimeout(flush, 5000);
      return false;
    }
  }

  async function upload(f) {
    hideAlert();
    const types = attachTypes();
    const max = (S.cfg.attachments && S.cfg.attachments.max_bytes) || 0;
    const ok = types.some((t) => t === f.type || (t.endsWith('/*') && f.type.startsWith(t.slice(0, -1))));
    if (!ok) { showAlert(`\u201c${f.name}\u201d cannot be sent: allowed are ${types.map((t) => t.split('/')[1].toUpperCase()).join(', ')} files.`); return; }
    if (max && f.size > max) { showAlert(`\u201c${f.name}\u201d is too large (${sizeText(f.size)}); the limit is ${sizeText(max)}.`); return; }
    if (!navigator.onLine) { showAlert('You are offline; please send the file when you are back online.'); return; }
    if (!S.token && !(await lazyStart())) { showAlert('The file could not be sent, please try again.'); return; }
    const cid = uuid();
    const { row } = msgRow({ direction: 'in', kind: 'file', text: '', created_at: new Date().toISOString(), sender: { type: 'contact' },
      attachments: [] }, 'Uploading\u2026');
    row.querySelector('.bubble').append(h('span', { class: 'file up' }, h('span', { class: 'ficon' }, icon('clip')),
      h('span', { class: 'fname' }, h('b', { text: f.name }), h('small', { text: sizeText(f.size) }))));
    row.classList.add('pending');
    place(row, Date.now(), true);
    S.pending.set(cid, row);
    toBottom(true);
    try {
      const r = await req('POST', '/attachments', f, { raw: true,
        headers: { 'Content-Type': f.type || 'application/octet-stream', 'X-Filename': encodeURIComponent(f.name), 'X-Client-Id': cid } });
      add(r.message);
    } catch (e) {
      S.pending.delete(cid);
      row.remove();
      showAlert(e.status === 413 ? `\u201c${f.name}\u201d is too large for this chat.`
        : e.status === 415 ? `Files of this type cannot be sent here.`
          : `\u201c${f.name}\u201d could not be sent${e.status ? ': ' + e.message : ', please check your connection'}.`);
    }
  }

  function typing(on) {
    if (!S.token || !navigator.onLine) return;
    clearTimeout(S.typingT);
    const now = Date.now();
    if (on) {
      S.typingT = setTimeout(() => typing(false), 5000);
      if (S.typingOn && now - S.typingAt < 4000) return;
    } else if (!S.typingOn) return;
    S.typingOn = on;
    S.typingAt = now;
    req('POST', '/typing', { on }).catch(() => {});
  }
  function theirTyping(on, name) {
    clearTimeout(S.theirTypingT);
    if (!chat.typing) return;
    const n = name || (S.agent && S.agent.name) || 'Support';
    chat.typingAv.textContent = initial(n);
    chat.typingText.textContent = on ? n + ' is typing' : '';
    const was = !chat.typing.hidden;
    chat.typing.hidden = !on;
    if (on) { S.theirTypingT = setTimeout(() => theirTyping(false), 8000); if (!was) toBottom(); }
  }
  function markRead() {
    clearTimeout(S.readT);
    S.readT = setTimeout(() => {
      let id = null;
      for (const [mid, row] of S.rows) if (row.classList.contains('them')) id = mid;
      if (!id || id === S.readSent || !S.open || document.hidden) return;
      S.readSent = id;
      req('POST', '/read', { until: id }).catch(() => { S.readSent = null; });
    }, 400);
  }
  function seen(until) {
    let hit = false;
    let last = null;
    for (const [mid, row] of S.rows) {
      if (row.classList.contains('me')) last = row;
      if (mid === until) { hit = true; break; }
    }
    if (!hit || !last) return;
    for (const el of chat.log.querySelectorAll('.row.me .st')) if (el.textContent === 'Seen') el.textContent = '';
    last.querySelector('.st').textContent = 'Seen';
  }

  /* ---------- the live stream ---------- */
  function setConn(c) {
    S.conn = c;
    clearTimeout(S.bannerT);
    if (c === 'live' || c === 'idle') { ui.banner.hidden = true; return; }
    // a short blip does not flash a banner
    S.bannerT = setTimeout(() => {
      ui.banner.textContent = c === 'offline' ? 'You are offline. Your messages will be sent when you are back.' : 'Reconnecting\u2026';
      ui.banner.className = 'banner ' + c;
      ui.banner.hidden = false;
    }, c === 'offline' ? 0 : 2000);
  }
  function abortStream() {
    if (S.stream) { const s = S.stream; S.stream = null; s.abort(); }
    clearTimeout(S.retryT);
  }
  function connect() {
    if (!S.token || S.stream || !navigator.onLine) { if (!navigator.onLine) setConn('offline'); return; }
    clearTimeout(S.retryT);
    const ctl = new AbortController();
    S.stream = ctl;
    S.lastData = Date.now();
    run(ctl).catch(() => {}).finally(() => {
      if (S.stream !== ctl) return;
      S.stream = null;
      if (!ctl.stop) retry();
    });
  }
  function retry() {
    clearTimeout(S.retryT);
    if (!S.token) return;
    if (!navigator.onLine) { setConn('offline'); return; } // the online event reconnects
    setConn('reconnecting');
    const d = Math.min(30000, 1000 * 2 ** Math.min(S.backoff++, 5)) * (0.75 + Math.random() / 2);
    S.retryT = setTimeout(connect, d);
  }
  async function run(ctl) {
    const headers = { Authorization: 'Bearer ' + S.token, Accept: 'text/event-stream' };
    // the newest message we have: the stream first replays what came after it
    const last = S.lastId || S.eventId;
    if (last) headers['Last-Event-ID'] = last;
    const r = await fetch(API + '/events', { headers, signal: ctl.signal, credentials: 'omit', cache: 'no-store' });
    if (r.status === 401) { ctl.stop = true; forget(); boot(); return; }
    if (r.status === 429) S.backoff = Math.max(S.backoff, 4); // too many tabs open: wait longer
    if (!r.ok || !r.body) throw new Error('stream ' + r.status);
    S.backoff = 0;
    setConn('live');
    catchUp().then(refresh).then(flush);
    const rd = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let ev = { type: '', data: '', has: false };
    for (;;) {
      const { value, done } = await rd.read();
      if (done) return;
      S.lastData = Date.now();
      buf += dec.decode(value, { stream: true });
      for (let i; (i = buf.indexOf('\n')) >= 0;) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        if (line === '') {
          if (ev.has) {
            let d = null;
            try { d = JSON.parse(ev.data); } catch (_) { /* ignore a broken event */ }
            if (d) try { onEvent(ev.type || 'message', d); } catch (e) { console.error('omnigate web chat:', e); }
          }
          ev = { type: '', data: '', has: false };
          continue;
        }
        if (line[0] === ':') continue;
        const c = line.indexOf(':');
        const f = c < 0 ? line : line.slice(0, c);
        const v = c < 0 ? '' : line.slice(c + (line[c + 1] === ' ' ? 2 : 1));
        if (f === 'event') ev.type = v;
        else if (f === 'data') { ev.data += (ev.has ? '\n' : '') + v; ev.has = true; }
        else if (f === 'id') S.eventId = v;
      }
      if (buf.length > 1 << 20) throw new Error('stream line too long');
    }
  }
  function onEvent(type, d) {
    if (type === 'message') {
      add(d, 'live');
      // after the close: the visitor wrote again (reopens) or an agent did (ask)
      if (S.session && S.session.status === 'closed' && who(d) !== 'sys') {
        if (d.direction === 'in') { S.session.status = 'queued'; header(); } else refresh();
      }
    } else if (type === 'typing') {
      theirTyping(!!d.on, d.agent && d.agent.name);
    } else if (type === 'assigned') {
      const name = d.agent && d.agent.name;
      if (name && (!S.agent || S.agent.name !== name)) sysRow(name + ' joined the chat', 'joined');
      S.agent = d.agent || null;
      header();
    } else if (type === 'read') {
      seen(d.until);
    } else if (type === 'closed') {
      closedRow(d.closing_text, !!d.csat);
    }
  }
  // After a reconnect: what the stream missed.
  async function catchUp() {
    if (!S.lastId) return;
    try {
      for (let page = 0; page < 20; page++) {
        const r = await req('GET', '/messages?after=' + encodeURIComponent(S.lastId));
        const ms = (r && r.messages) || [];
        for (const m of ms) add(m, 'live');
        if (ms.length < 100) break;
      }
    } catch (_) { /* the next reconnect tries again */ }
  }
  // The visitor ends the conversation (after a confirmation).
  function askEnd(on) {
    ui.confirm.hidden = !on;
    const b = ui.confirm.querySelector(on ? '.btn:not(.ghost)' : null);
    if (b) b.focus(); else if (!on) ui.end.focus();
  }
  async function endChat() {
    ui.confirm.hidden = true;
    try {
      const r = await req('POST', '/close', {});
      if (r && r.session) S.session = r.session;
      closedRow(null, !(S.session && S.session.csat));
    } catch (e) {
      if (chat.alert) showAlert(e.status ? 'The conversation could not be ended: ' + e.message : 'No connection, please try again.');
    }
  }
  // The session's state (agent, closed) may have changed before this stream
  // was open: events are not replayed, so ask (a resume is idempotent).
  async function refresh() {
    try {
      const r = await req('POST', '/start', { token: S.token });
      for (const m of r.messages || []) add(m, 'live');
      const s = r.session;
      if (!s) return;
      S.session = s;
      if (((s.agent && s.agent.name) || '') !== ((S.agent && S.agent.name) || '')) S.agent = s.agent || null;
      header();
      if (s.status === 'closed') closedRow(null, !s.csat);
    } catch (_) { /* the next reconnect tries again */ }
  }
  // A laptop that slept or a proxy that dropped the connection silently:
  // no data (not even the 15 s ping) for 40 s means the stream is dead.
  setInterval(() => {
    if (S.stream && Date.now() - S.lastData > 40000) { abortStream(); connect(); }
  }, 5000);
  addEventListener('online', () => {
    if (S.view === 'error') { boot(); return; }
    S.backoff = 0;
    abortStream();
    connect();
  });
  addEventListener('offline', () => { abortStream(); setConn('offline'); });
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return;
    if (S.token && (!S.stream || Date.now() - S.lastData > 20000)) { S.backoff = 0; abortStream(); connect(); }
    if (S.open && S.view === 'chat') { S.unread = 0; badge(); markRead(); }
  });
  // Leaving frees the stream's place (5 per token); a page restored from the
  // back/forward cache opens it again and catches up.
  addEventListener('pagehide', () => { if (S.stream) { S.stream.stop = true; abortStream(); } });
  addEventListener('pageshow', (e) => { if (e.persisted && S.token && S.view === 'chat') { S.backoff = 0; connect(); } });

  /* ---------- start ---------- */
  async function resume() {
    loadingView();
    try {
      enterChat(await req('POST', '/start', { token: S.token }));
      return true;
    } catch (e) {
      if (e.status === 400 || e.status === 401 || e.status === 404) { forget(); return false; }
      errorView(e.status ? 'The chat could not be loaded (' + e.message + ').' : 'No connection to the chat. Please check your network.');
      return true;
    }
  }
  async function boot() {
    if (!S.view) loadingView();
    try {
      S.cfg = await req('GET', '/config', undefined, { anon: true });
      S.cfgAt = Date.now();
    } catch (e) {
      errorView(e.status === 403 || e.status === undefined
        ? 'This chat is not available on this website.'
        : 'The chat could not be loaded (' + e.message + ').');
      return;
    }
    S.cfg.pre_chat = S.cfg.pre_chat || { fields: [] };
    S.cfg.pre_chat.fields = (S.cfg.pre_chat.fields || []).filter((f) => FIELD[f.name]);
    applyTheme();
    if (S.token && (await resume())) return;
    if (!S.cfg.online) offlineView();
    else if (S.cfg.pre_chat.fields.length) prechatView();
    else { resetChat(); showChat(); }
  }

  // Agents came online or went away since the form was shown: switch
  // between the pre-chat and the offline form, unless the visitor typed.
  async function recheck() {
    try {
      const cfg = await req('GET', '/config', undefined, { anon: true });
      S.cfgAt = Date.now();
      const typed = [...ui.body.querySelectorAll('.in')].some((i) => i.value.trim());
      if (typed || !!cfg.online === !!S.cfg.online || (S.view !== 'prechat' && S.view !== 'offline')) return;
      S.cfg.online = cfg.online;
      if (cfg.online && S.cfg.pre_chat.fields.length) prechatView();
      else if (cfg.online) { resetChat(); showChat(); }
      else offlineView();
    } catch (_) { /* keep what is shown */ }
  }

  // Host page API: window.OmnigateChat.open() / .close().
  window.OmnigateChat = window.OmnigateChat || { open: () => setOpen(true), close: () => setOpen(false) };
  const mount = () => {
    document.body.append(host);
    boot();
    let wasOpen = false;
    try { wasOpen = sessionStorage.getItem(KEY + 'open') === '1'; } catch (_) { /* fine */ }
    if (wasOpen) setOpen(true, true);
  };
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
})();
