// Suggested tags on the edit form: each becomes a button that adds its tag to the tags
// field (once). Without JavaScript the suggestions are a plain list to copy from.
(function () {
  "use strict";
  for (const list of document.querySelectorAll(".tag-suggestions[data-target]")) {
    const field = document.getElementById(list.dataset.target);
    if (!field) continue;
    const current = () => field.value.split(/[,\s]+/).map((t) => t.trim().toLowerCase()).filter(Boolean);
    for (const chip of list.querySelectorAll("[data-tag]")) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "chip";
      button.dataset.tag = chip.dataset.tag;
      button.textContent = "+ " + chip.dataset.tag;
      button.setAttribute("aria-label", `Add tag ${chip.dataset.tag}`);
      const sync = () => {
        const added = current().includes(button.dataset.tag);
        button.disabled = added;
      };
      button.addEventListener("click", () => {
        if (!current().includes(button.dataset.tag)) {
          const value = field.value.trim().replace(/,$/, "");
          field.value = value ? `${value}, ${button.dataset.tag}` : button.dataset.tag;
          field.dispatchEvent(new Event("input", { bubbles: true }));
        }
        sync();
      });
      field.addEventListener("input", sync);
      chip.replaceWith(button);
      sync();
    }
  }
})();
