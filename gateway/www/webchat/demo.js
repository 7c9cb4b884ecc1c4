// demo.js - the demo shop's few behaviours (no inline script: the page has a
// strict CSP). The chat itself is widget.js, loaded by its one tag.
document.addEventListener('click', (e) => {
  const t = e.target instanceof Element ? e.target : null;
  if (t && t.closest('[data-open-chat]') && window.OmnigateChat) window.OmnigateChat.open();
  if (t && t.closest('[data-add]')) {
    const c = document.querySelector('.cart .count');
    c.textContent = String(Number(c.textContent) + 1);
  }
});
