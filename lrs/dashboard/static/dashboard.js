// Keeps an open cohort page up to date: the server tells it (server-sent events) when what it
// shows has changed, and the page then fetches itself again and swaps its content in place.
// Everything works without this script; it only saves a reload.
(function () {
  "use strict";
  var source = null, busy = false, again = false;

  function live() { return document.getElementById("live"); }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        var here = live();
        if (fresh && here) {
          here.replaceWith(fresh);
          mark();
        }
      })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }

  function mark() {
    var m = document.querySelector(".live-mark");
    if (m) m.hidden = false;
  }

  function listen() {
    var el = live();
    if (!el || !window.EventSource) return;
    source = new EventSource(el.getAttribute("data-live"));
    source.addEventListener("hello", function (e) {
      mark();
      if (e.data !== live().getAttribute("data-fingerprint")) refresh();
    });
    source.addEventListener("changed", function (e) {
      if (e.data !== live().getAttribute("data-fingerprint")) refresh();
    });
    source.onerror = function () {
      // EventSource reconnects by itself after a stream ends; if it gave up, try again later
      if (source.readyState === EventSource.CLOSED) setTimeout(listen, 10000);
    };
  }

  listen();
})();
