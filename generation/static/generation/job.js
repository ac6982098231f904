// Follows one job over its WebSocket (ws/jobs/<id>/) and keeps the page current.
// The server sends the whole job on every (re)connect, so after a drop we just
// reconnect with backoff and render that state: nothing is ever missed. What the
// server says about the job always wins over what this page guessed: a late
// progress event never moves a finished job back to "running", and a cancel shows
// whatever the server answered, not what the button hoped for.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const FINAL = ["succeeded", "failed", "cancelled"];
  const LABELS = { queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed", cancelled: "Cancelled" };
  // Close codes of the consumer's refusals: reconnecting cannot help, so say why and stop.
  const REFUSALS = {
    4401: "This page's sign-in ended (you signed out, or your password was changed), so it stopped following the job.",
    4404: "This job is no longer available to you, so this page stopped following it.",
  };
  let status = root.dataset.status;
  let retry = 0;
  let socket = null;

  function setStatus(value) {
    status = value;
    root.dataset.status = value;
    $("job-status").textContent = LABELS[value] || value;
    $("job-queue").hidden = value !== "queued";
    $("job-cancel").hidden = FINAL.includes(value);
    if (FINAL.includes(value)) {
      $("job-eta").textContent = "";
      if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
    }
  }

  function setProgress(step, total) {
    const bar = $("job-progress");
    bar.max = total; bar.value = step;
    $("job-step").textContent = step; $("job-total").textContent = total;
  }

  function notice(text) {
    const el = $("job-notice");
    el.hidden = !text; el.textContent = text || "";
  }

  // Who may see each result: the owner's curation form (see job_detail.html), one group
  // of radios per portrait, submitted together.
  const publishForm = $("job-publish");
  const curate = publishForm && publishForm.dataset.curate === "true";
  const VISIBILITIES = [["private", "Private"], ["unlisted", "Unlisted"], ["public", "Public"]];

  function visibilityChoice(p, number) {
    const set = document.createElement("fieldset");
    set.className = "visibility-choice";
    const legend = document.createElement("legend");
    legend.textContent = `Who sees portrait ${number}`;
    set.append(legend);
    for (const [value, label] of VISIBILITIES) {
      const wrap = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio"; input.name = `visibility-${p.id}`; input.value = value;
      input.setAttribute("form", "job-publish");
      input.checked = p.visibility === value;
      wrap.append(input, ` ${label}`);
      set.append(wrap);
    }
    return set;
  }

  function renderPortraits(portraits) {
    const list = $("job-portraits");
    list.replaceChildren();
    (portraits || []).forEach((p, index) => {
      const fig = document.createElement("figure");
      const link = document.createElement("a"); link.href = p.url;
      const img = document.createElement("img");
      img.src = p.thumbnail_url; img.alt = p.title;
      if (p.thumbnail_width) { img.width = p.thumbnail_width; img.height = p.thumbnail_height; }
      link.append(img); fig.append(link);
      const cap = document.createElement("figcaption"); cap.textContent = p.title; fig.append(cap);
      if (curate) fig.append(visibilityChoice(p, index + 1));
      list.append(fig);
    });
    const any = Boolean(portraits && portraits.length);
    if (any) { $("job-preview").hidden = true; }
    if (curate) { publishForm.hidden = !any; $("job-publish-save").hidden = !any; }
  }

  // The job as the server has it (REST resource / `state` / `done`): always applied.
  function renderJob(job) {
    setStatus(job.status);
    setProgress(job.progress.step, job.progress.total);
    if (job.queue_position) { $("job-queue-position").textContent = job.queue_position; }
    const error = $("job-error");
    error.hidden = !job.error; error.textContent = job.error || "";
    if (job.status === "failed" || job.status === "cancelled") { $("job-preview").hidden = true; }
    renderPortraits(job.portraits);
  }

  const isFinal = () => FINAL.includes(status);
  const handlers = {
    state: (e) => renderJob(e.job),
    queued: (e) => { if (status === "queued") $("job-queue-position").textContent = e.position; },
    started: (e) => { if (!isFinal()) { setStatus("running"); setProgress(0, e.total); } },
    progress: (e) => {
      if (isFinal()) return; // a step that arrives after the end changes nothing
      if (status !== "running") setStatus("running");
      setProgress(e.step, e.total);
      $("job-eta").textContent = e.step < e.total ? `about ${e.eta_seconds.toFixed(1)} s left` : "finishing…";
      if (e.preview) { const img = $("job-preview"); img.hidden = false; img.src = e.preview; }
    },
    done: (e) => renderJob(e.job),
    failed: (e) => { setStatus("failed"); const el = $("job-error"); el.hidden = false; el.textContent = e.error; $("job-preview").hidden = true; },
    cancelled: () => { setStatus("cancelled"); $("job-preview").hidden = true; },
  };

  function refused(code) {
    const el = $("job-connection");
    el.replaceChildren(REFUSALS[code] + " ");
    if (code === 4401) {
      const link = document.createElement("a");
      link.href = root.dataset.loginUrl; link.textContent = "Log in again";
      el.append(link, ".");
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${root.dataset.wsPath}`);
    socket.onopen = () => { retry = 0; $("job-connection").textContent = ""; };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      (handlers[event.type] || (() => {}))(event);
    };
    socket.onclose = (event) => {
      if (event.code in REFUSALS) { refused(event.code); return; }
      if (isFinal()) return;
      retry += 1;
      const delay = Math.min(10000, 500 * 2 ** Math.min(retry, 5));
      $("job-connection").textContent = "Connection lost — reconnecting…";
      setTimeout(connect, delay);
    };
  }

  async function api(url, method) {
    const token = $("job-cancel").elements.csrfmiddlewaretoken.value;
    const response = await fetch(url, {
      method,
      headers: { Accept: "application/json", "X-CSRFToken": token },
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => ({}));
    return { ok: response.ok, body };
  }

  // Cancel without leaving the page, through the API, and show what the server says:
  // the cancelled job, or why it refused (it finished meanwhile) and the job as it is.
  // The form still works without JavaScript.
  $("job-cancel").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.currentTarget.querySelector("button");
    button.disabled = true;
    notice("");
    try {
      const answer = await api(root.dataset.cancelApiUrl, "POST");
      if (answer.ok) { renderJob(answer.body); return; }
      notice(answer.body.detail || "The job could not be cancelled.");
      const fresh = await api(root.dataset.apiUrl, "GET");
      if (fresh.ok) renderJob(fresh.body);
    } catch (error) {
      notice("Could not reach the server to cancel; try again.");
    } finally {
      button.disabled = false;
    }
  });

  renderJob(JSON.parse($("job-data").textContent));
  if (!isFinal()) connect();
})();
