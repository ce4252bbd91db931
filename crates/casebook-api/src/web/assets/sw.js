// casebook's service worker (scope /app/): keeps what a member needs in
// the field for when the connection is gone.
// - The script, style and icon: served from the cache, refreshed behind.
// - "My households", household pages and case pages: from the network when
//   it answers (within a few seconds), and then kept; from the cache when
//   it does not. A page never visited shows /app/offline.
// - Nothing else is cached, and nothing that is not a GET: reports and
//   visits made offline wait in the page's queue (IndexedDB), not here.
'use strict';

const STATIC = 'cb-static-v1';
const PAGES = 'cb-pages-v1';
const SHELL = ['/app/static/app.css', '/app/static/app.js', '/app/static/icon.svg', '/app/offline'];
// How long a page waits for the network before the saved copy is shown.
const NETWORK_WAIT_MS = 4000;
const KEPT_PAGES = [/^\/app\/my$/, /^\/app\/households\/[0-9a-f-]{36}$/, /^\/app\/cases\/[0-9a-f-]{36}$/];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(STATIC).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys
        .filter((key) => key !== STATIC && key !== PAGES)
        .map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

async function staticAsset(request) {
  const cache = await caches.open(STATIC);
  const cached = await cache.match(request, { ignoreSearch: true });
  const refresh = fetch(request).then((response) => {
    if (response.ok) cache.put(request, response.clone());
    return response;
  });
  if (cached) {
    refresh.catch(() => {});
    return cached;
  }
  return refresh;
}

async function keptPage(request) {
  const cache = await caches.open(PAGES);
  try {
    const response = await withTimeout(fetch(request), NETWORK_WAIT_MS);
    if (response.ok && !response.redirected) {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (e) {
    const cached = await cache.match(request, { ignoreSearch: true });
    return cached || offlinePage();
  }
}

async function offlinePage() {
  const cached = await caches.match('/app/offline');
  return cached || new Response('offline', { status: 503, headers: { 'Content-Type': 'text/plain' } });
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/app/static/')) {
    event.respondWith(staticAsset(request));
    return;
  }
  if (request.mode !== 'navigate') return;
  if (KEPT_PAGES.some((pattern) => pattern.test(url.pathname))) {
    event.respondWith(keptPage(request));
    return;
  }
  event.respondWith(fetch(request).catch(() => offlinePage()));
});
