// Like and follow buttons (gallery/_like_button.html, _follow_button.html) without a
// reload. Each is a form that works on its own (POST, then back to the page); here the
// same POST goes by fetch with Accept: application/json, and the answer (the new state
// and counts) is shown in place. The form's own CSRF token travels in its body. What the
// server answers always wins: the button shows the state it reports, not the one hoped for.
(function () {
  "use strict";

  function countText(el, n) {
    const word = n === 1 ? el.dataset.one : el.dataset.many;
    return word ? n + " " + word : String(n);
  }

  function show(form, data) {
    const on = Boolean(data[form.dataset.state]);
    const button = form.querySelector("button[aria-pressed]");
    button.setAttribute("aria-pressed", on ? "true" : "false");
    form.elements.intent.value = on ? form.dataset.off : form.dataset.on;
    const scope = form.dataset.scope && document.getElementById(form.dataset.scope);
    for (const root of scope ? [form, scope] : [form]) {
      for (const el of root.querySelectorAll("[data-field]")) {
        const value = data[el.dataset.field];
        if (typeof value === "number") el.textContent = countText(el, value);
      }
    }
  }

  function complain(form, text) {
    let note = form.querySelector(".toggle-error");
    if (!note) {
      note = document.createElement("span");
      note.className = "toggle-error";
      note.setAttribute("role", "alert");
      form.append(note);
    }
    note.textContent = text || "";
    note.hidden = !text;
  }

  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("community-toggle")) return;
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return; // one request at a time
    form.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.getAttribute("action"), {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      let data = null;
      try { data = await response.json(); } catch (_) { /* not JSON: the page's own error */ }
      if (response.status === 401) { form.submit(); return; } // signed out: the form logs in
      if (!response.ok || !data) {
        complain(form, (data && data.detail) || "That did not work; please try again.");
        return;
      }
      complain(form, "");
      show(form, data);
    } catch (_) {
      form.submit(); // offline or blocked: let the browser try the plain form
    } finally {
      form.removeAttribute("aria-busy");
    }
  });
})();
