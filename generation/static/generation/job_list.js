// "My jobs", live: one WebSocket (ws/jobs/, live_socket.js) for every row of the page,
// never one per row.
// The server sends, on every (re)connect, each queued or running job and each that ended
// since the page was drawn (or since its last state): a dropped connection just
// reconnects and redraws those rows. Only rows on this page change; a job the page does
// not show is ignored. What the server says of a job always wins.
(function () {
  "use strict";
  const table = document.getElementById("jobs");
  if (!table) return;
  const FINAL = ["succeeded", "failed", "cancelled"];
  const LABELS = { queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed", cancelled: "Cancelled" };
  const status = document.getElementById("jobs-connection");
  let since = table.dataset.since;

  const rowOf = (id) => table.querySelector(`tr[data-job-id="${id}"]`);
  const part = (row, role) => row.querySelector(`[data-role="${role}"]`);

  function setStatus(row, value, label) {
    row.dataset.status = value;
    const badge = part(row, "status");
    badge.className = `badge status-${value}`;
    badge.textContent = label || LABELS[value] || value;
    const progress = part(row, "progress");
    progress.hidden = FINAL.includes(value);
    progress.querySelector("progress").hidden = value !== "running";
    const placeholder = row.querySelector(".job-thumb-placeholder");
    if (placeholder) placeholder.textContent = label || LABELS[value] || value;
  }

  function setSteps(row, step, total) {
    const bar = part(row, "progress").querySelector("progress");
    bar.max = total; bar.value = step;
    part(row, "progress-text").textContent = `${step} of ${total} steps`;
  }

  function setThumbnail(row, thumbnail) {
    if (!thumbnail) return;
    const cell = row.querySelector(".job-thumb");
    let img = cell.querySelector("img");
    if (!img) {
      img = document.createElement("img");
      img.alt = "";
      cell.replaceChildren(img);
    }
    img.src = thumbnail.url;
    if (thumbnail.width) { img.width = thumbnail.width; img.height = thumbnail.height; }
  }

  // A row as the server presents it (generation.presenters.job_list_row).
  function renderRow(job) {
    const row = rowOf(job.id);
    if (!row) return;
    setStatus(row, job.status, job.status_label);
    if (job.status === "queued") {
      part(row, "progress-text").textContent = job.queue_position ? `Position ${job.queue_position} in the queue` : "";
    } else if (job.status === "running") {
      setSteps(row, job.progress.step, job.progress.total);
    }
    setThumbnail(row, job.thumbnail);
  }

  const handlers = {
    state: (e) => { since = e.at; e.jobs.forEach(renderRow); },
    job: (e) => renderRow(e.job),
    queued: (e) => {
      const row = rowOf(e.job_id);
      if (row && row.dataset.status === "queued") part(row, "progress-text").textContent = `Position ${e.position} in the queue`;
    },
    started: (e) => {
      const row = rowOf(e.job_id);
      if (row && !FINAL.includes(row.dataset.status)) { setStatus(row, "running"); setSteps(row, 0, e.total); }
    },
    progress: (e) => {
      const row = rowOf(e.job_id);
      if (!row || FINAL.includes(row.dataset.status)) return; // late steps change nothing
      if (row.dataset.status !== "running") setStatus(row, "running");
      setSteps(row, e.step, e.total);
    },
  };

  const live = window.followSocket({
    // What ended since the last state comes back on a reconnect (the consumer's `since`).
    path: () => table.dataset.wsPath + (since ? `?since=${encodeURIComponent(since)}` : ""),
    handlers,
    stop: (code) => {
      if (code !== 4401) return false;
      status.textContent = "Signed out: this list stopped updating. Reload after signing in.";
      return true;
    },
    onOpen: () => { status.textContent = ""; },
    onLost: () => { status.textContent = "Connection lost — reconnecting…"; },
  });

  // Nothing on this page can change any more: no socket at all.
  const active = [...table.querySelectorAll("tr[data-status]")].some((row) => !FINAL.includes(row.dataset.status));
  if (active) live.connect();
})();
