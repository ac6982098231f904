// A case's decision form: show the fields the chosen decision uses (all show without this).
(function () {
  const USES = {
    rule: (d) => !["uphold", "reverse"].includes(d),
    reason: (d) => !["uphold", "reverse"].includes(d),
    descendants: (d) => d === "hide",
    period: (d) => d === "suspend",
  };
  function update(form) {
    const chosen = form.querySelector("input[name='decide-decision']:checked");
    for (const row of form.querySelectorAll("[data-field]")) {
      const uses = USES[row.dataset.field];
      if (uses) row.hidden = chosen ? !uses(chosen.value) : false;
    }
  }
  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("[data-decide]")) {
      form.addEventListener("change", () => update(form));
      update(form);
    }
  });
})();
