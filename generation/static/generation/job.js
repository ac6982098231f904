// Follows one job over its WebSocket (ws/jobs/<id>/) and keeps the page current.
// The server sends the whole job on every (re)connect, so after a drop we just
// reconnect with backoff and render that state: nothing is ever missed.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const FINAL = ["succeeded", "failed", "cancelled"];
  const LABELS = { queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed", cancelled: "Cancelled" };
  let status = root.dataset.status;
  let retry = 0;
  let socket = null;

  function setStatus(value) {
    status = value;
    root.dataset.status = value;
    $("job-status").textContent = LABELS[value] || value;
    $("job-queue").hidden = value !== "queued";
    $("job-cancel").hidden = FINAL.includes(value);
    if (FINAL.includes(value)) { $("job-eta").textContent = ""; }
  }

  function setProgress(step, total) {
    const bar = $("job-progress");
    bar.max = total; bar.value = step;
    $("job-step").textContent = step; $("job-total").textContent = total;
  }

  function renderPortraits(portraits) {
    const list = $("job-portraits");
    list.replaceChildren();
    for (const p of portraits || []) {
      const fig = document.createElement("figure");
      const link = document.createElement("a"); link.href = p.url;
      const img = document.createElement("img");
      img.src = p.thumbnail_url; img.alt = p.title;
      if (p.thumbnail_width) { img.width = p.thumbnail_width; img.height = p.thumbnail_height; }
      link.append(img); fig.append(link);
      const cap = document.createElement("figcaption"); cap.textContent = p.title; fig.append(cap);
      list.append(fig);
    }
    if (portraits && portraits.length) { $("job-preview").hidden = true; }
  }

  function renderJob(job) {
    setStatus(job.status);
    setProgress(job.progress.step, job.progress.total);
    if (job.queue_position) { $("job-queue-position").textContent = job.queue_position; }
    const error = $("job-error");
    error.hidden = !job.error; error.textContent = job.error || "";
    renderPortraits(job.portraits);
  }

  const handlers = {
    state: (e) => renderJob(e.job),
    queued: (e) => { $("job-queue-position").textContent = e.position; },
    started: (e) => { setStatus("running"); setProgress(0, e.total); },
    progress: (e) => {
      if (status !== "running") setStatus("running");
      setProgress(e.step, e.total);
      $("job-eta").textContent = e.step < e.total ? `about ${e.eta_seconds.toFixed(1)} s left` : "finishing…";
      if (e.preview) { const img = $("job-preview"); img.hidden = false; img.src = e.preview; }
    },
    done: (e) => renderJob(e.job),
    failed: (e) => { setStatus("failed"); const el = $("job-error"); el.hidden = false; el.textContent = e.error; },
    cancelled: () => { setStatus("cancelled"); $("job-preview").hidden = true; },
  };

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${root.dataset.wsPath}`);
    socket.onopen = () => { retry = 0; $("job-connection").textContent = ""; };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      (handlers[event.type] || (() => {}))(event);
      if (FINAL.includes(status)) socket.close(1000);
    };
    socket.onclose = (event) => {
      if (FINAL.includes(status) || event.code === 4401 || event.code === 4404) return;
      retry += 1;
      const delay = Math.min(10000, 500 * 2 ** Math.min(retry, 5));
      $("job-connection").textContent = "Connection lost — reconnecting…";
      setTimeout(connect, delay);
    };
  }

  // Cancel without leaving the page; the form still works without JavaScript.
  $("job-cancel").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const response = await fetch(form.action, { method: "POST", body: new FormData(form), redirect: "manual" });
    if (response.type === "opaqueredirect" || response.ok) setStatus("cancelled");
  });

  renderJob(JSON.parse($("job-data").textContent));
  if (!FINAL.includes(status)) connect();
})();
