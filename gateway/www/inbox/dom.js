// dom.js - the page's one way to make elements. Text goes in with
// textContent and attributes with setAttribute, never innerHTML: whatever a
// customer or an agent typed is shown as text, so it cannot become markup.

// el('div', {class: 'x', onclick: fn}, 'text', child, [more children])
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    // styles through the CSSOM: the page's CSP refuses style attributes
    else if (k === 'style') for (const [p, x] of Object.entries(v)) e.style.setProperty(p, String(x));
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') e[k] = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  add(e, children);
  return e;
}

function add(e, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) add(e, c);
    else if (c instanceof Node) e.appendChild(c);
    else e.appendChild(document.createTextNode(String(c)));
  }
}

// Replaces an element's children.
export function fill(e, ...children) {
  e.replaceChildren();
  add(e, children);
  return e;
}

// Only http(s) links may come from outside (no javascript: or data: URLs).
export function safeUrl(u) {
  try {
    const url = new URL(u, location.href);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch (_) {
    return null;
  }
}

// Dates in the browser's own time zone.
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function shortTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const now = new Date();
  return d.toDateString() === now.toDateString() ? timeFmt.format(d) : dayFmt.format(d);
}
export function fullTime(iso) {
  return iso ? fullFmt.format(new Date(iso)) : '—';
}
export function clock(iso) {
  return iso ? timeFmt.format(new Date(iso)) : '';
}
// "4 min", "2 h", "3 d" since iso.
export function since(iso) {
  if (!iso) return '';
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.floor(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || '?').slice(0, 2);
  return s.toUpperCase();
}

// A stable hue per string, for avatars.
export function hue(s) {
  let h = 0;
  for (const ch of String(s || '')) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}
