// The sweep board (sweep_detail.html): every cell painting live over one socket
// (ws/sweeps/<id>/), triage by keyboard and pointer, and the comparison slider.
// Without this script the board is plain forms: each button posts and the page reloads.
(function () {
  "use strict";
  const board = document.getElementById("board");
  if (!board) return;
  const apiUrl = board.dataset.apiUrl;
  const token = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const announce = document.getElementById("board-announce");
  const connection = document.getElementById("board-connection");
  const CHOICE_KEYS = { k: "keep", d: "discard", s: "skip" };
  const CHOICE_WORDS = { keep: "Kept", discard: "Discarded", skip: "Skipped" };
  let lastChosen = null;  // the cell "C" compares the focused one with

  const cells = () => Array.from(board.querySelectorAll(".sweep-cell"));
  const cellAt = (position) => board.querySelector(`.sweep-cell[data-position="${position}"]`);
  const cellOf = (jobId) => board.querySelector(`.sweep-cell[data-job-id="${jobId}"]`);
  const part = (cell, role) => cell.querySelector(`[data-role="${role}"]`);

  function say(text) { announce.textContent = text; }

  function stateText(cell, data) {
    const choice = data.choice;
    if (choice) return CHOICE_WORDS[choice];
    const job = data.job;
    if (job.status === "running") return `Painting, step ${job.progress.step} of ${job.progress.total}`;
    if (job.status === "succeeded") return "Painted";
    return job.status.charAt(0).toUpperCase() + job.status.slice(1);
  }

  function showChoice(cell, choice) {
    cell.className = cell.className.replace(/choice-\S+/, `choice-${choice || "none"}`);
    cell.querySelectorAll("button[data-choice]").forEach((button) => {
      const pressed = button.dataset.choice === choice;
      button.setAttribute("aria-pressed", String(pressed));
      button.value = pressed ? "" : button.dataset.choice;  // pressing it again undecides
    });
  }

  function showPicture(cell, src, alt) {
    const picture = part(cell, "picture");
    const placeholder = part(cell, "placeholder");
    if (src) {
      picture.src = src;
      picture.alt = alt || "";
      picture.hidden = false;
      if (placeholder) placeholder.hidden = true;
    }
  }

  // A whole cell, as the server presents it (state on connect, and a cell that ended).
  function renderCell(data) {
    const cell = cellAt(data.position);
    if (!cell) return;
    const job = data.job;
    cell.className = cell.className.replace(/status-\S+/, `status-${job.status}`);
    showChoice(cell, data.choice);
    const portrait = job.portraits[0];
    if (portrait) {
      showPicture(cell, portrait.image_url, data.caption);
      const open = part(cell, "open");
      open.href = portrait.url;
      open.textContent = "Open";
    } else if (job.status !== "running" && job.status !== "queued") {
      const placeholder = part(cell, "placeholder");
      if (placeholder) placeholder.textContent = stateText(cell, data);
    }
    part(cell, "state").textContent = stateText(cell, data);
    cell.dataset.imageUrl = portrait ? portrait.image_url : "";
    const cancel = part(cell, "cancel");
    if (cancel && job.status !== "queued" && job.status !== "running") cancel.remove();
    if (portrait) showPublish(cell, job, portrait);
  }

  // A painted cell's Publish / Make private form (the server draws it for cells painted
  // before the page loaded; this draws it for cells that finish while it is open).
  function showPublish(cell, job, portrait) {
    let form = part(cell, "publish");
    if (!form) {
      form = document.createElement("form");
      form.method = "post";
      form.className = "cell-publish";
      form.dataset.role = "publish";
      cell.querySelector(".cell-links").before(form);
    }
    const isPublic = portrait.visibility === "public";
    form.action = `${job.url}publish/`;
    form.dataset.jobId = job.id;
    form.dataset.portraitId = portrait.id;
    form.dataset.visibility = isPublic ? "private" : "public";
    form.replaceChildren();
    if (isPublic) {
      const label = document.createElement("span");
      label.className = "muted";
      label.dataset.role = "published";
      label.textContent = "Published";
      form.append(label, " ");
    }
    const button = document.createElement("button");
    button.type = "submit";
    button.tabIndex = -1;
    button.className = isPublic ? "link-button" : "secondary";
    button.textContent = isPublic ? "Make private" : "Publish";
    form.append(button);
  }

  function renderSweep(sweep) {
    sweep.cells.forEach(renderCell);
    const counts = sweep.counts;
    const calls = sweep.batches ? `, in ${sweep.batches} pipeline call${sweep.batches === 1 ? "" : "s"}` : "";
    document.getElementById("sweep-summary").textContent = `${counts.painted} painted, ${counts.kept} kept${calls}`;
    if (!counts.active) {
      const cancel = document.getElementById("sweep-cancel");
      if (cancel) cancel.remove();
    }
  }

  const live = window.followSocket({
    path: () => board.dataset.wsPath,
    handlers: {
      state: (event) => renderSweep(event.sweep),
      queued: (event) => {
        const cell = cellOf(event.job_id);
        if (cell) part(cell, "state").textContent = `Queued, position ${event.position} in the queue`;
      },
      started: (event) => {
        const cell = cellOf(event.job_id);
        if (cell) part(cell, "state").textContent = `Painting, step 0 of ${event.total}`;
      },
      progress: (event) => {
        const cell = cellOf(event.job_id);
        if (!cell) return;
        part(cell, "state").textContent = `Painting, step ${event.step} of ${event.total}`;
        if (event.preview) showPicture(cell, event.preview, "");
      },
      cell: (event) => {
        renderCell(event.cell);
        live.refreshSoon();
      },
    },
    stop: (code) => code === 4401 || code === 4404,
    onOpen: () => { connection.textContent = ""; },
    onLost: () => { connection.textContent = "Reconnecting…"; },
  });
  // The summary (painted, kept, calls) is the sweep's: asked again once cells settle.
  let refreshTimer = null;
  live.refreshSoon = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => fetch(apiUrl, { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null)).then((sweep) => sweep && renderSweep(sweep)), 300);
  };
  live.connect();

  function post(path, body) {
    return fetch(apiUrl + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token, Accept: "application/json" },
      body: JSON.stringify(body),
    }).then((response) => response.json().then((data) => ({ ok: response.ok, data })));
  }

  function triage(cell, choice) {
    const position = Number(cell.dataset.position);
    const caption = cell.querySelector("figcaption").textContent;
    return post("triage/", { cell: position, choice }).then(({ ok, data }) => {
      if (!ok) { say(data.detail || "Not saved."); return; }
      const saved = data.cells.find((c) => c.position === position);
      renderCell(saved);
      renderSweep(data);
      say(choice ? `${caption}: ${CHOICE_WORDS[choice].toLowerCase()}.` : `${caption}: undecided.`);
      if (choice) lastChosen = position;
    });
  }

  function publish(cell, form) {
    const hidden = form.querySelector("input[name^=visibility-]");
    const portraitId = form.dataset.portraitId || hidden.name.slice("visibility-".length);
    const visibility = form.dataset.visibility || hidden.value;
    const jobId = cell.dataset.jobId;
    return fetch(`/api/v1/jobs/${jobId}/publish/`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token, Accept: "application/json" },
      body: JSON.stringify({ portraits: { [portraitId]: visibility } }),
    }).then((response) => response.json().then((job) => {
      if (!response.ok) { say(job.detail || "Not saved."); return; }
      const portrait = job.portraits.find((p) => p.id === portraitId);
      showPublish(cell, job, portrait);
      say(`${cell.querySelector("figcaption").textContent}: ${visibility === "public" ? "published" : "private again"}.`);
    }));
  }

  // Pointer: the forms' buttons, through the API (no reload, focus stays).
  board.addEventListener("submit", (event) => {
    const cancelling = event.target.closest(".cell-cancel");
    if (cancelling) {
      event.preventDefault();
      const cell = cancelling.closest(".sweep-cell");
      const position = Number(cell.dataset.position);
      post("cancel/", { cell: position }).then(({ ok, data }) => {
        if (!ok) { say(data.detail || "Not cancelled."); return; }
        renderSweep(data);
        say(`${cell.querySelector("figcaption").textContent}: cancelled.`);
      });
      cell.focus();
      return;
    }
    const published = event.target.closest(".cell-publish");
    if (published) {
      event.preventDefault();
      const cell = published.closest(".sweep-cell");
      publish(cell, published);
      cell.focus();
      return;
    }
    const form = event.target.closest(".cell-triage");
    if (!form) return;
    event.preventDefault();
    const button = event.submitter;
    const cell = form.closest(".sweep-cell");
    triage(cell, button ? button.value : "");
    cell.focus();
  });

  // Keyboard: arrows move between cells (rows of the grid by Up and Down), K / D / S decide
  // the focused one (again to undecide), C compares it with the last one decided.
  board.addEventListener("keydown", (event) => {
    const cell = event.target.closest(".sweep-cell");
    if (!cell || event.target !== cell || event.altKey || event.ctrlKey || event.metaKey) return;
    const all = cells();
    const index = all.indexOf(cell);
    const perRow = Math.max(1, Math.round(board.clientWidth / cell.offsetWidth));
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow, Home: -index, End: all.length - 1 - index };
    if (event.key in moves) {
      const next = all[Math.min(all.length - 1, Math.max(0, index + moves[event.key]))];
      next.focus();
      event.preventDefault();
      return;
    }
    const key = event.key.toLowerCase();
    if (key in CHOICE_KEYS) {
      const choice = CHOICE_KEYS[key];
      const pressed = cell.querySelector(`button[data-choice="${choice}"]`).getAttribute("aria-pressed") === "true";
      triage(cell, pressed ? "" : choice);
      event.preventDefault();
    } else if (key === "p") {
      const form = part(cell, "publish");
      if (form) { publish(cell, form); event.preventDefault(); }
    } else if (key === "c") {
      const other = lastChosen !== null && lastChosen !== Number(cell.dataset.position) ? lastChosen : null;
      if (other === null) { say("Decide another cell first, then press C on this one to compare them."); return; }
      compare([other, Number(cell.dataset.position)]);
      event.preventDefault();
    }
  });

  // The comparison: the first picture over the second, the slider moving the divide.
  const section = document.getElementById("compare");
  const over = document.getElementById("compare-over");
  const range = document.getElementById("compare-range");
  range.addEventListener("input", () => { over.style.width = `${range.value}%`; });
  over.style.width = `${range.value}%`;

  function compare(positions) {
    return post("compare/", { cells: positions }).then(({ ok, data }) => {
      if (!ok) { say(data.detail || "Cannot compare those."); return; }
      const [left, right] = positions.map((p) => data.cells.find((c) => c.position === p));
      const image = (cell) => (cell.job.portraits[0] || {}).image_url || "";
      document.getElementById("compare-left").src = image(left);
      document.getElementById("compare-left").alt = left.caption;
      document.getElementById("compare-right").src = image(right);
      document.getElementById("compare-right").alt = right.caption;
      document.getElementById("compare-left-caption").textContent = left.caption;
      document.getElementById("compare-right-caption").textContent = right.caption;
      document.querySelectorAll("#compare-pick form").forEach((form) => {
        const [chosen, over] = form.dataset.side === "left" ? [left, right] : [right, left];
        form.elements.chosen.value = chosen.position;
        form.elements.over.value = over.position;
        form.elements.cell.value = chosen.position;
        form.querySelector("[data-role=caption]").textContent = chosen.caption;
      });
      document.getElementById("pick-said").textContent = "";
      section.hidden = false;
      range.value = 50;
      over.style.width = "50%";
      section.scrollIntoView({ block: "nearest" });
      range.focus();
      say(`Comparing ${left.caption} with ${right.caption}.`);
    });
  }
  // The pick between the two side by side: the strongest signal of the member's taste.
  document.getElementById("compare-pick").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const chosen = Number(form.elements.chosen.value);
    const over = Number(form.elements.over.value);
    post("pick/", { chosen, over }).then(({ ok, data }) => {
      if (!ok) {
        const errors = Object.values(data.errors || {}).flat();
        say(errors.join(" ") || data.detail || "Not saved.");
        return;
      }
      const caption = (p) => data.cells.find((c) => c.position === p).caption;
      const said = `You preferred ${caption(chosen)} to ${caption(over)}.`;
      document.getElementById("pick-said").textContent = said;
      say(said);
    });
  });
  document.getElementById("compare-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = Array.from(event.target.querySelectorAll("select")).map((s) => Number(s.value));
    compare(chosen);
  });
})();
