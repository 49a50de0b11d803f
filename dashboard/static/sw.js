// The dashboard's service worker: shows alerts pushed by the server as notifications, and
// opens (or focuses) the dashboard when one is tapped. It caches nothing: the pages always
// come from the server. Served at /sw.js so that its scope is the whole dashboard.
const ICON = '/static/{{version}}/icon-192.png';

self.addEventListener('install', () => { self.skipWaiting(); });
self.addEventListener('activate', (event) => { event.waitUntil(self.clients.claim()); });

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: event.data ? event.data.text() : '' };
  }
  const title = data.title || '信州 IoT';
  event.waitUntil(self.registration.showNotification(title, {
    body: data.body || '',
    tag: data.tag || undefined,
    lang: data.lang || 'ja',
    icon: ICON,
    badge: ICON,
    data: { alert: data.alert || null, site: data.site || null },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const client of windows) {
      if ('focus' in client) return client.focus();
    }
    return self.clients.openWindow('/#/');
  })());
});
