// ui.js - the page's small widgets: a labelled field, a modal dialog (the
// native <dialog>: focus stays inside, Escape closes) with a pending and an
// error state, and toasts for what just happened.
import { el } from './dom.js';

let seq = 0;
// A label and its control, tied by id.
export function field(label, control) {
  if (!control.id) control.id = 'f' + ++seq;
  return el('div', { class: 'field' }, el('label', { for: control.id }, label), control);
}

// dialog({title, body: [nodes], submit: 'label', onsubmit: async (form) => {...}})
// onsubmit throws to show an error and keep the dialog open.
export function dialog({ title, body, submit, onsubmit, cancel = 'Cancel' }) {
  const err = el('p', { class: 'form-error', role: 'alert' });
  const ok = el('button', { class: 'btn primary', type: 'submit' }, submit);
  const d = el('dialog', { class: 'dlg', 'aria-label': title });
  const form = el('form', { method: 'dialog', onsubmit: async (e) => {
    e.preventDefault();
    ok.disabled = true; err.textContent = '';
    try { await onsubmit(form); d.close(); } catch (x) { err.textContent = x.message; }
    ok.disabled = false;
  } },
  el('h2', {}, title), el('div', { class: 'dlg-body' }, body), err,
  el('div', { class: 'dlg-bar' }, el('button', { class: 'btn ghost', type: 'button', onclick: () => d.close() }, cancel), ok));
  d.appendChild(form);
  d.addEventListener('close', () => d.remove());
  document.body.appendChild(d);
  d.showModal();
  const first = form.querySelector('input:not([type=radio]):not([type=checkbox]), select, textarea');
  if (first) first.focus();
  return d;
}

let box;
export function toast(text, kind) {
  if (!box) { box = el('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' }); document.body.appendChild(box); }
  const t = el('div', { class: 'toast ' + (kind || '') }, text);
  box.appendChild(t);
  setTimeout(() => t.remove(), kind === 'error' ? 6000 : 3000);
}
