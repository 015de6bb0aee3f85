// Keeps an open cohort page up to date: the server tells it (server-sent events) when what it
// shows has changed, and the page then fetches itself again and swaps its content in place.
// Everything works without this script; it only saves a reload.
(function () {
  "use strict";
  // known: the cohort's fingerprint the page is known to show (null until the first hello)
  var source = null, busy = false, again = false, known = null;

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
      // "POSITION FINGERPRINT": the stream's starting point
      var space = e.data.indexOf(" ");
      var position = Number(e.data.slice(0, space)), fingerprint = e.data.slice(space + 1);
      mark();
      if (known === null) {
        if (position !== Number(live().getAttribute("data-position"))) refresh();  // applied since the page was read
      } else if (fingerprint !== known) {
        refresh();  // changed while the stream was reconnecting
      }
      known = fingerprint;
    });
    source.addEventListener("changed", function (e) {
      if (e.data !== known) refresh();
      known = e.data;
    });
    source.onerror = function () {
      // EventSource reconnects by itself after a stream ends; if it gave up, try again later
      if (source.readyState === EventSource.CLOSED) setTimeout(listen, 10000);
    };
  }

  listen();
})();
