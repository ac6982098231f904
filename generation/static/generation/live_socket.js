// A page's WebSocket that follows the server: the job page (job.js) and "My jobs"
// (job_list.js). Each message is a JSON event handed to the page's handler for its `type`;
// after a drop it reconnects with backoff (1 s, doubling, at most 10 s). The server sends
// where things stand on every connect, so a reconnect misses nothing. Whether a close is
// worth a reconnect (not after a refusal, nor once nothing is left to follow) is the
// page's to say, through `stop(code)`.
//
//   const live = followSocket({
//     path: () => "/ws/...",          // read on every connect: a query may change
//     handlers: { state: (event) => ... },
//     stop: (code) => true,           // the page answers this close itself: no reconnect
//     onOpen: () => ..., onLost: () => ...,  // say "reconnecting…" and clear it again
//   });
//   live.connect(); live.close(); live.isOpen();
window.followSocket = function (options) {
  "use strict";
  let socket = null;
  let retry = 0;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${options.path()}`);
    socket.onopen = () => {
      retry = 0;
      if (options.onOpen) options.onOpen();
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      const handler = options.handlers[event.type];
      if (handler) handler(event);
    };
    socket.onclose = (event) => {
      if (options.stop && options.stop(event.code)) return;
      retry += 1;
      if (options.onLost) options.onLost();
      setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(retry, 5)));
    };
  }

  return {
    connect,
    // Connecting or connected (a page back from the back/forward cache may have neither).
    isOpen: () => socket !== null && socket.readyState <= WebSocket.OPEN,
    close: () => { if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000); },
  };
};
