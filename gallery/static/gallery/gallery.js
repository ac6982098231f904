// Infinite scroll for a gallery grid (gallery/_grid.html). Without this script the
// "Load more" link is a plain link to the next page; with it, the next page's cards are
// fetched as a fragment (the same URL with fragment=1) when the link scrolls into view,
// and appended, skipping any card already shown.
(function () {
  "use strict";
  // The filter bar: selects apply on change (the Show button stays for keyboards), and
  // empty fields stay out of the URL (the server reads a blank field as "any" anyway).
  var filters = document.querySelector("[data-gallery-filters]");
  if (filters) {
    filters.querySelectorAll("select, input[type=checkbox]").forEach(function (field) {
      field.addEventListener("change", function () {
        if (filters.requestSubmit) filters.requestSubmit(); else filters.submit();
      });
    });
    filters.addEventListener("submit", function () {
      filters.querySelectorAll("input, select").forEach(function (field) {
        if (field.name && !field.value) field.disabled = true;
      });
    });
  }

  var grid = document.querySelector("[data-gallery-grid]");
  var link = document.querySelector("[data-gallery-next]");
  if (!grid || !link || !("IntersectionObserver" in window) || !window.fetch) return;

  var seen = new Set();
  grid.querySelectorAll("[data-id]").forEach(function (card) { seen.add(card.dataset.id); });
  var loading = false;

  var observer = new IntersectionObserver(function (entries) {
    if (entries.some(function (entry) { return entry.isIntersecting; })) load();
  }, { rootMargin: "800px 0px" });
  observer.observe(link);

  function done() {
    observer.disconnect();
    var holder = link.closest(".load-more");
    (holder || link).remove();
    link = null;
  }

  function load() {
    if (loading || !link) return;
    loading = true;
    link.setAttribute("aria-busy", "true");
    var url = new URL(link.href, window.location.href);
    url.searchParams.set("fragment", "1");
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        page.querySelectorAll("[data-id]").forEach(function (card) {
          if (seen.has(card.dataset.id)) return;
          seen.add(card.dataset.id);
          grid.appendChild(document.importNode(card, true));
        });
        var next = page.querySelector("[data-gallery-next]");
        if (!next) return done();
        link.href = next.getAttribute("href");
        link.removeAttribute("aria-busy");
        // Still in view (a short page, a tall screen)? Observing again fires at once.
        observer.unobserve(link);
        observer.observe(link);
      })
      .catch(function () {
        // Leave the plain link: a click loads the next page the old way.
        observer.disconnect();
        if (link) link.removeAttribute("aria-busy");
      })
      .finally(function () { loading = false; });
  }

})();
