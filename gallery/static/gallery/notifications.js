// Keeps the navigation's unread badge live over ws/notifications/ (gallery/consumers.py).
// The server sends the count on connect and with every change; this only shows it. On the
// notifications page, something new also offers a link to show it. Without JavaScript the
// badge is simply the count when the page was rendered.
(function () {
  "use strict";
  // The badge on the Notifications link, and its copy on the phone layout's "Menu" button.
  var badges = Array.prototype.slice.call(
    document.querySelectorAll("[data-unread-badge], [data-unread-menu-badge]")
  );
  if (!badges.length || !("WebSocket" in window)) return;
  var fresh = document.querySelector("[data-notifications-new]");
  var SIGNED_OUT = 4401;
  var delay = 1000;

  function show(unread) {
    badges.forEach(function (badge) {
      badge.querySelector("[data-unread-count], [data-unread-menu-count]").textContent =
        unread > 99 ? "99+" : String(unread);
      badge.hidden = unread === 0;
    });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/notifications/");
    socket.onopen = function () { delay = 1000; };
    socket.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (error) { return; }
      if (typeof event.unread_count === "number") show(event.unread_count);
      if (event.type === "notification" && fresh) fresh.hidden = false;
    };
    socket.onclose = function (close) {
      if (close.code === SIGNED_OUT) return; // signed out: nothing more to hear
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 60000);
    };
  }

  // A tab coming back from sleep may have missed pushes: the reconnect sends the count.
  connect();
})();
