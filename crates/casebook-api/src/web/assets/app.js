// casebook: the pages' only script. Everything works without it except
// offline use; with it:
// - the service worker (/app/sw.js) keeps the members' pages for offline use;
// - forms marked data-offline (report a concern, record a visit or the
//   resident's feedback) are queued in IndexedDB with an id and a field time
//   made on this device, shown as "waiting to send", and sent through
//   POST /v1/sync whenever the connection is there. The sync endpoint is
//   idempotent by command id, so a retry never records anything twice;
//   conflicts and refusals are shown, not hidden.
'use strict';

(function () {
  const DB_NAME = 'casebook';
  const STORE = 'queue';
  // Commands per sync request; the server accepts more, but a small batch
  // fits a weak connection.
  const BATCH_MAX = 25;
  // How often to retry while something waits (milliseconds).
  const RETRY_MS = 15000;
  // Finished entries (sent) are forgotten after a day.
  const KEEP_SENT_MS = 24 * 3600 * 1000;

  const meta = (name) => {
    const el = document.querySelector(`meta[name="${name}"]`);
    return el ? el.content : '';
  };
  let csrf = meta('csrf-token');
  const person = meta('person');

  const texts = (() => {
    const el = document.getElementById('queue-text');
    try { return el ? JSON.parse(el.textContent) : {}; } catch (e) { return {}; }
  })();
  const msg = (key) => texts[key] || key;

  // --- small helpers ------------------------------------------------------
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function fieldTime(form) {
    const input = form.querySelector('[name="occurred_at"]');
    if (input && input.value) {
      const at = new Date(input.value);
      if (!isNaN(at.getTime())) return at.toISOString();
    }
    return new Date().toISOString();
  }

  const value = (form, name) => {
    const el = form.querySelector(`[name="${name}"]`);
    if (!el) return '';
    if (el.type === 'radio') {
      const checked = form.querySelector(`[name="${name}"]:checked`);
      return checked ? checked.value : '';
    }
    return el.value.trim();
  };

  // --- IndexedDB ----------------------------------------------------------
  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(STORE, { keyPath: 'command_id' });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function withStore(mode, work) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const store = tx.objectStore(STORE);
      let result;
      Promise.resolve(work(store)).then((r) => { result = r; });
      tx.oncomplete = () => { db.close(); resolve(result); };
      tx.onerror = () => { db.close(); reject(tx.error); };
    });
  }

  const put = (entry) => withStore('readwrite', (s) => { s.put(entry); });
  const remove = (id) => withStore('readwrite', (s) => { s.delete(id); });
  const all = () => withStore('readonly', (s) => new Promise((resolve) => {
    const request = s.getAll();
    request.onsuccess = () => resolve(request.result || []);
  }));

  async function mine() {
    const entries = (await all()).filter((e) => e.person_id === person);
    entries.sort((a, b) => (a.made_at < b.made_at ? -1 : 1));
    return entries;
  }

  // --- building commands from forms ---------------------------------------
  function command(form) {
    const type = form.dataset.offline;
    const idField = form.querySelector('[name="command_id"]');
    const commandId = (idField && idField.value) || uuid();
    const occurredAt = fieldTime(form);
    if (type === 'report') {
      const concernId = uuid();
      const confidentiality = value(form, 'confidentiality');
      const informant = value(form, 'informant_name');
      return {
        type, household_id: form.dataset.household, concern_id: concernId,
        item: {
          concern_id: concernId,
          command: {
            type: 'report', command_id: commandId, occurred_at: occurredAt,
            concern_id: concernId,
            subject: { household: { household_id: form.dataset.household } },
            kind: value(form, 'kind'), topic: value(form, 'topic'),
            priority: value(form, 'priority'), confidentiality,
            sealed_informant: confidentiality === 'confidential_tip' && informant
              ? { name: informant, contact: value(form, 'informant_contact') || null, note: null }
              : null,
            text: value(form, 'text'),
            // Sealed by the server with the household's key; empty is none.
            personal_note: value(form, 'personal_note') || null,
          },
        },
        command_id: commandId, made_at: occurredAt, summary: value(form, 'text'),
      };
    }
    const concernId = form.dataset.case;
    const base = { type: type, command_id: commandId, occurred_at: occurredAt };
    if (type === 'record_action') {
      base.action = value(form, 'action') || 'visit';
      base.summary = value(form, 'summary');
    } else if (type === 'record_feedback') {
      base.satisfied = value(form, 'satisfied') !== 'no';
      base.comment = value(form, 'comment');
      base.follow_up = value(form, 'follow_up') || null;
    }
    return {
      type, concern_id: concernId, item: { concern_id: concernId, command: base },
      command_id: commandId, made_at: occurredAt,
      summary: base.summary || base.comment || '',
    };
  }

  async function enqueue(form) {
    const built = command(form);
    await put({
      command_id: built.command_id,
      person_id: person,
      type: built.type,
      concern_id: built.concern_id,
      household_id: built.household_id || form.dataset.household || '',
      item: built.item,
      summary: built.summary,
      made_at: built.made_at,
      state: 'waiting',
      detail: '',
    });
    form.reset();
    const idField = form.querySelector('[name="command_id"]');
    if (idField) idField.value = uuid();
    notice(msg('queue.saved_offline'));
    await render();
    flush();
  }

  // --- sending ------------------------------------------------------------
  let flushing = false;

  async function refreshCsrf() {
    const response = await fetch('/app/csrf', { credentials: 'same-origin', cache: 'no-store' });
    if (!response.ok) return false;
    const body = await response.json();
    if (body.person_id !== person) return false;
    csrf = body.csrf;
    return true;
  }

  async function send(batch, retried) {
    let response;
    try {
      response = await fetch('/v1/sync', {
        method: 'POST',
        credentials: 'same-origin',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify({ commands: batch.map((e) => e.item) }),
      });
    } catch (e) {
      setOnline(false);
      return 'offline';
    }
    setOnline(true);
    if (response.status === 401) return 'auth';
    if (response.status === 403 && !retried) {
      try {
        if (await refreshCsrf()) return send(batch, true);
      } catch (e) { return 'offline'; }
      return 'auth';
    }
    if (!response.ok) return 'later';
    const answer = await response.json();
    for (const result of answer.results || []) {
      const entry = batch[result.index];
      if (!entry) continue;
      if (result.status === 'applied') { entry.state = 'sent'; }
      else if (result.status === 'already_applied') { entry.state = 'already'; }
      else if (result.status === 'conflict') {
        entry.state = 'conflict';
        entry.detail = (result.problem && result.problem.detail) || '';
      } else {
        entry.state = 'rejected';
        entry.detail = (result.problem && result.problem.detail) || '';
      }
      entry.sent_at = new Date().toISOString();
      // Answered: the personal note need not stay on the device.
      if (entry.item && entry.item.command) delete entry.item.command.personal_note;
      await put(entry);
    }
    return 'done';
  }

  async function flush() {
    if (flushing || !person) return;
    flushing = true;
    try {
      for (;;) {
        const waiting = (await mine()).filter((e) => e.state === 'waiting' || e.state === 'auth');
        if (!waiting.length) break;
        const batch = waiting.slice(0, BATCH_MAX);
        for (const entry of batch) { entry.state = 'sending'; }
        await render(batch);
        const outcome = await send(batch, false);
        if (outcome !== 'done') {
          for (const entry of batch) {
            entry.state = outcome === 'auth' ? 'auth' : 'waiting';
            await put(entry);
          }
          break;
        }
      }
    } finally {
      flushing = false;
      await render();
    }
  }

  // --- showing the queue --------------------------------------------------
  const STATE_TEXT = {
    waiting: 'queue.waiting', sending: 'queue.sending', sent: 'queue.sent',
    already: 'queue.already', conflict: 'queue.conflict', rejected: 'queue.rejected',
    auth: 'queue.sign_in_again',
  };

  async function render(overlay) {
    const list = document.getElementById('queue');
    const section = document.getElementById('queue-section');
    if (!list || !section) return;
    let entries = await mine();
    const now = Date.now();
    for (const e of entries) {
      const finished = e.state === 'sent' || e.state === 'already';
      if (finished && e.sent_at && now - Date.parse(e.sent_at) > KEEP_SENT_MS) {
        await remove(e.command_id);
      }
    }
    entries = await mine();
    const sending = new Map((overlay || []).map((e) => [e.command_id, e.state]));
    list.textContent = '';
    for (const entry of entries) {
      const state = sending.get(entry.command_id) || entry.state;
      const li = document.createElement('li');
      li.dataset.state = state;
      li.dataset.commandId = entry.command_id;
      li.dataset.case = entry.concern_id || '';
      const title = document.createElement('div');
      const strong = document.createElement('span');
      strong.className = 'state';
      strong.textContent = msg(STATE_TEXT[state] || 'queue.waiting');
      title.append(strong, ` · ${msg('queue.' + entry.type)} · ${msg('queue.made_at')} ${new Date(entry.made_at).toLocaleString(document.documentElement.lang)}`);
      li.append(title);
      if (entry.summary) {
        const p = document.createElement('p');
        p.className = 'hint';
        p.textContent = entry.summary;
        li.append(p);
      }
      if (entry.detail) {
        const p = document.createElement('p');
        p.className = 'bad-text';
        p.textContent = entry.detail;
        li.append(p);
      }
      const done = ['sent', 'already', 'conflict', 'rejected'].includes(state);
      if (done && entry.concern_id && state !== 'rejected') {
        const a = document.createElement('a');
        a.href = `/app/cases/${entry.concern_id}`;
        a.textContent = msg('queue.open_case');
        li.append(a, ' ');
      }
      if (done) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'link';
        b.textContent = msg('queue.dismiss');
        b.addEventListener('click', async () => { await remove(entry.command_id); render(); });
        li.append(b);
      }
      list.append(li);
    }
    section.hidden = entries.length === 0;
  }

  // --- the connection banner, notices -------------------------------------
  function setOnline(online) {
    const banner = document.getElementById('net-status');
    if (!banner) return;
    banner.hidden = online;
    banner.textContent = online ? '' : banner.dataset.offlineText;
  }

  function notice(text) {
    let box = document.getElementById('js-notice');
    if (!box) {
      box = document.createElement('div');
      box.id = 'js-notice';
      box.className = 'notice notice-ok';
      box.setAttribute('role', 'status');
      const main = document.getElementById('main');
      if (main) main.parentNode.insertBefore(box, main);
    }
    box.textContent = text;
  }

  // --- wiring -------------------------------------------------------------
  function wire() {
    for (const form of document.querySelectorAll('form[data-offline]')) {
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        if (!form.reportValidity()) return;
        enqueue(form).catch((e) => notice(String(e)));
      });
    }
    const informant = document.getElementById('r-informant');
    const confidentiality = document.getElementById('r-conf');
    if (informant && confidentiality) {
      const show = () => { informant.hidden = confidentiality.value !== 'confidential_tip'; };
      confidentiality.addEventListener('change', show);
      show();
    }
    const sendNow = document.getElementById('queue-send');
    if (sendNow) sendNow.addEventListener('click', () => flush());
    for (const button of document.querySelectorAll('[data-print]')) {
      button.addEventListener('click', () => window.print());
    }
    for (const form of document.querySelectorAll('form[data-sign-out]')) {
      form.addEventListener('submit', () => {
        // Pages kept for offline use hold personal data: drop them. The
        // queue stays (it is sent only under its own person's session).
        if (window.caches) {
          caches.keys().then((keys) => keys
            .filter((k) => k.startsWith('cb-pages'))
            .forEach((k) => caches.delete(k)));
        }
      });
    }
    window.addEventListener('online', () => { setOnline(true); flush(); });
    window.addEventListener('offline', () => setOnline(false));
    setOnline(navigator.onLine);
    if (person && 'serviceWorker' in navigator) {
      navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {});
    }
    if (person && window.indexedDB) {
      render().then(flush).catch(() => {});
      setInterval(() => {
        mine().then((entries) => {
          if (entries.some((e) => e.state === 'waiting')) flush();
        }).catch(() => {});
      }, RETRY_MS);
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', wire);
  } else {
    wire();
  }
})();
