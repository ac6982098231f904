// The sweep page: show only the chosen axis's values, and how many cells it will paint
// (the server counts again, and refuses more than data-max-cells).
(function () {
  "use strict";
  const form = document.querySelector(".sweep-form");
  if (!form) return;
  const max = Number(form.dataset.maxCells);
  const count = document.getElementById("sweep-count");
  const prompt = form.querySelector("[name=prompt]");

  function alternatives(text) {
    // Mirrors generation.sweeps.prompt_alternatives' count: 0 when malformed.
    let depth = 0;
    for (const char of text) {
      if (char === "{") { depth += 1; if (depth > 1) return 0; }
      if (char === "}") { depth -= 1; if (depth < 0) return 0; }
    }
    if (depth) return 0;
    const groups = text.match(/\{[^{}]*\}/g) || [];
    if (!groups.length) return 0;
    return groups.reduce((total, group) => {
      const n = group.slice(1, -1).split("|").length;
      return n < 2 ? 0 : total * n;
    }, 1);
  }

  function cellsFor(axis) {
    if (axis === "styles") return form.querySelectorAll("[name=styles]:checked").length;
    if (axis === "seeds") return Number(form.querySelector("[name=variations]").value) || 0;
    if (axis === "prompt") return alternatives(prompt.value);
    return form.querySelector("[name=values]").value.split(/[\s,]+/).filter(Boolean).length;
  }

  function update() {
    const axis = (form.querySelector("[name=axis]:checked") || {}).value;
    form.querySelectorAll("[data-axis-values]").forEach((block) => {
      block.hidden = !block.dataset.axisValues.split(" ").includes(axis);
    });
    const n = cellsFor(axis);
    count.hidden = false;
    count.textContent = n > max ? `${n} cells: at most ${max} in one sweep.` : `${n} cell${n === 1 ? "" : "s"} will be painted.`;
    count.classList.toggle("over", n > max || n < 2);
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
