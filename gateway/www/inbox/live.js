// live.js - the live feed: GET /api/v1/events through EventSource (the
// session cookie goes with it). The browser resumes with Last-Event-ID by
// itself after a drop; when the stream fails for good (e.g. 401 after the
// session ended) we ask onDead whether to go on, and reconnect with back-off.

const TYPES = [
  'session.created', 'session.assigned', 'session.transferred', 'session.status_changed',
  'session.closed', 'session.reopened', 'message.received', 'message.sent', 'message.delivered',
  'message.read', 'message.failed', 'session.window_closed',
];

export function connect({ onEvent, onState, onDead }) {
  let es = null;
  let delay = 1000;
  let stopped = false;
  let lastId = '';

  function open() {
    if (stopped) return;
    es = new EventSource('/api/v1/events' + (lastId ? '?since=' + encodeURIComponent(lastId) : ''));
    es.onopen = () => { delay = 1000; onState('live'); };
    es.onerror = async () => {
      if (es.readyState === EventSource.CONNECTING) { onState('reconnecting'); return; }
      es.close();
      onState('reconnecting');
      if (await onDead()) setTimeout(open, delay);
      delay = Math.min(delay * 2, 15000);
    };
    for (const t of TYPES) {
      es.addEventListener(t, (m) => {
        if (m.lastEventId) lastId = m.lastEventId;
        let ev;
        try { ev = JSON.parse(m.data); } catch (_) { return; }
        onEvent(t, ev.data || {});
      });
    }
  }
  open();
  return { close() { stopped = true; if (es) es.close(); } };
}
