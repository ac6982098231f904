// Follows one job over its WebSocket (ws/jobs/<id>/, live_socket.js) and keeps the page
// current. The server sends the whole job on every (re)connect, so after a drop we just
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
  const ENDED = ["failed", "cancelled"];
  const LABELS = { queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed", cancelled: "Cancelled" };
  const ENDED_TEXT = {
    cancelled: "This job was cancelled before it finished: nothing was painted.",
    failed: "Nothing was painted.",
  };
  // Close codes of the consumer's refusals: reconnecting cannot help, so say why and stop.
  const REFUSALS = {
    4401: "This page's sign-in ended (you signed out, or your password was changed), so it stopped following the job.",
    4404: "This job is no longer available to you, so this page stopped following it.",
  };
  let status = root.dataset.status;
  let resultsLoading = false;

  // Which blocks show follows from the status alone: the progress and the preview while
  // it paints; what happened and what to do next once it failed or was cancelled.
  function setStatus(value) {
    status = value;
    root.dataset.status = value;
    const final = FINAL.includes(value);
    $("job-status").textContent = LABELS[value] || value;
    $("job-queue").hidden = value !== "queued";
    $("job-cancel").hidden = final;
    $("job-running").hidden = final;
    $("job-canvas").hidden = final;
    $("job-ended").hidden = !ENDED.includes(value);
    if (ENDED.includes(value)) $("job-ended-text").textContent = ENDED_TEXT[value];
    const waiting = $("job-waiting");
    if (waiting) waiting.textContent = value === "queued" ? "Waiting in the queue" : "Painting: the preview appears after the first steps";
    if (final) {
      $("job-eta").textContent = "";
      live.close();
    }
  }

  function setProgress(step, total) {
    const bar = $("job-progress");
    bar.max = total; bar.value = step;
    $("job-step").textContent = step; $("job-total").textContent = total;
    // Image-to-image: "10 of 20 steps: strength 0.5", with the count the worker reports.
    const strengthSteps = $("job-strength-steps");
    if (strengthSteps) strengthSteps.textContent = total;
  }

  function showPreview(src) {
    const canvas = $("job-canvas");
    let img = $("job-preview");
    if (!img) {
      img = document.createElement("img");
      img.id = "job-preview";
      img.alt = "Live preview of the painting";
      canvas.append(img);
    }
    img.src = src;
    const waiting = $("job-waiting");
    if (waiting) waiting.hidden = true;
  }

  function notice(text) {
    const el = $("job-notice");
    el.hidden = !text; el.textContent = text || "";
  }

  // The parent as the server presents it for this member (never a title it withholds).
  function renderParent(job) {
    const parent = job.parent;
    // "Edit and resubmit" opens the remix form only while the parent may be opened.
    const edit = $("job-edit");
    if (edit) {
      const url = new URL(edit.href);
      if (parent && parent.available) url.searchParams.set("remix", parent.id);
      else url.searchParams.delete("remix");
      edit.href = url.pathname + url.search;
    }
    const el = $("job-parent");
    if (!el || job.reproduces) return;
    el.replaceChildren();
    if (!parent) return;
    el.append(" · remix of ");
    if (parent.available) {
      const link = document.createElement("a");
      link.href = parent.url; link.textContent = parent.title;
      el.append(link);
    } else {
      const em = document.createElement("em");
      const by = parent.author ? ` by ${parent.author.name}` : "";
      em.textContent = `a portrait${by}, ${parent.removed_by_moderators ? "removed by moderators" : "no longer available"}`;
      el.append(em);
    }
    if (job.recipe && job.recipe.init_strength != null) el.append(` (image-to-image, strength ${job.recipe.init_strength})`);
  }

  // The results as the server draws them (seeds, publish choices, remix, vary, download,
  // the comparison): fetched once when the job finishes with the page open, so the page
  // has one way of showing them.
  async function loadResults() {
    if (resultsLoading) return;
    resultsLoading = true;
    try {
      const response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error(String(response.status));
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("job-results");
      if (fresh) $("job-results").replaceWith(fresh);
    } catch (error) {
      notice("The job has finished: reload the page to see its portraits.");
    } finally {
      resultsLoading = false;
    }
  }

  // The batch line, as job_detail.html words it: only for a job painted with others.
  function jobBatchText(batch) {
    const others = batch.jobs - 1;
    return `Painted together with ${others} other job${others === 1 ? "" : "s"}: ${batch.images} images in one pipeline call.`;
  }

  // The job as the server has it (REST resource / `state` / `done`): always applied.
  function renderJob(job) {
    setStatus(job.status);
    setProgress(job.progress.step, job.progress.total);
    if (job.queue_position) { $("job-queue-position").textContent = job.queue_position; }
    const note = $("job-queue-note");
    note.hidden = !job.queue_note; note.textContent = job.queue_note || "";
    const batch = $("job-batch");
    const together = job.batch && job.batch.jobs > 1 && job.status !== "queued";
    batch.hidden = !together; batch.textContent = together ? jobBatchText(job.batch) : "";
    const error = $("job-error");
    error.hidden = !job.error; error.textContent = job.error || "";
    renderParent(job);
    const shown = $("job-portraits").querySelectorAll("figure").length;
    if (job.status === "succeeded" && shown !== (job.portraits || []).length) loadResults();
  }

  const isFinal = () => FINAL.includes(status);
  const handlers = {
    state: (e) => renderJob(e.job),
    queued: (e) => { if (status === "queued") $("job-queue-position").textContent = e.position; },
    // A worker took it: whatever the queue note said, it no longer waits.
    started: (e) => { if (!isFinal()) { setStatus("running"); setProgress(0, e.total); $("job-queue-note").hidden = true; } },
    progress: (e) => {
      if (isFinal()) return; // a step that arrives after the end changes nothing
      if (status !== "running") setStatus("running");
      setProgress(e.step, e.total);
      $("job-eta").textContent = e.step < e.total ? `about ${e.eta_seconds.toFixed(1)} s left` : "finishing…";
      if (e.preview) showPreview(e.preview);
    },
    done: (e) => renderJob(e.job),
    failed: (e) => { setStatus("failed"); const el = $("job-error"); el.hidden = false; el.textContent = e.error; },
    cancelled: () => setStatus("cancelled"),
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

  const live = window.followSocket({
    path: () => root.dataset.wsPath,
    handlers,
    // A refusal says why and stops; a finished job has nothing more to say.
    stop: (code) => {
      if (code in REFUSALS) { refused(code); return true; }
      return isFinal();
    },
    onOpen: () => { $("job-connection").textContent = ""; },
    onLost: () => { $("job-connection").textContent = "Connection lost — reconnecting…"; },
  });

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

  // A page shown again from the back/forward cache is as old as when it was left (its
  // parent may have been deleted since): read the job again, follow it again if active.
  window.addEventListener("pageshow", async (event) => {
    if (!event.persisted) return;
    const fresh = await api(root.dataset.apiUrl, "GET").catch(() => null);
    if (fresh && fresh.ok) renderJob(fresh.body);
    if (!isFinal() && !live.isOpen()) live.connect();
  });

  renderJob(JSON.parse($("job-data").textContent));
  if (!isFinal()) live.connect();
})();
