// Redline field app service worker: the app shell works offline; API reads fall back to the last answer.
const SHELL = "redline-field-v0";  // served as redline-field-v<hash of the shell files> (field_app.service_worker)
const DATA = "redline-field-data-v1";
const SHELL_FILES = ["/field/", "/field/index.html", "/field/js/app.js", "/field/js/api.js", "/field/js/i18n.js",
  "/field/js/map.js", "/field/js/patrol.js", "/field/js/queue.js", "/field/js/steps.js", "/field/style.css", "/field/manifest.webmanifest",
  "/field/icon.svg", "/static/js/common/dom.js", "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(SHELL_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  // An older shell (other file names) is dropped, so a phone never runs half an old app.
  event.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k.startsWith("redline-field-v") && k !== SHELL)
    .map((k) => caches.delete(k)))).then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (url.pathname === "/health") { return; }  // is the server there? Only the network can say
  if (/^\/api\/photos\/\d+\/thumbnail$/.test(url.pathname)) {
    // A thumbnail never changes (derived from an original stored by its SHA-256): the stored copy first.
    event.respondWith(caches.open(DATA).then((c) => c.match(event.request).then((hit) => hit || fetch(event.request)
      .then((response) => { if (response.ok) { c.put(event.request, response.clone()); } return response; }))));
    return;
  }
  if (url.pathname.startsWith("/api/")) {
    // Network first, so inspectors see fresh cases; the last good answer when there is no signal.
    event.respondWith(fetch(event.request).then((response) => {
      if (response.ok) { const copy = response.clone(); caches.open(DATA).then((c) => c.put(event.request, copy)); }
      return response;
    }).catch(() => caches.match(event.request).then((hit) => hit || new Response(
      JSON.stringify({ error: { type: "Offline", message: "offline and not cached" } }),
      { status: 503, headers: { "Content-Type": "application/json" } }))));
    return;
  }
  event.respondWith(caches.match(event.request, { ignoreSearch: true }).then((hit) => hit || fetch(event.request)));
});
