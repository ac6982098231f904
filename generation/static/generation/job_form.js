// The create form. Steps, guidance and size left empty mean "the chosen model's default"
// (the server fills them in). Each model's <option> carries its defaults and maxima as
// data attributes (data-default-steps, data-max-steps, ...); when another model is picked,
// its defaults become the placeholders, its maxima the limits, and the noise notice shows
// only for a model that paints noise. Without this script the page shows the numbers of
// the model selected when it was rendered, and empty fields still get the right defaults.
(function () {
  "use strict";
  const select = document.querySelector("form select[name=model]");
  if (!select) return;
  const FIELDS = ["steps", "guidance_scale", "width", "height"];
  const notice = document.getElementById("noise-model-notice");

  function apply() {
    const option = select.selectedOptions[0];
    if (!option) return;
    for (const name of FIELDS) {
      const input = select.form.elements[name];
      if (!input) continue;
      const key = name.replace("_", "-");
      const fallback = option.getAttribute(`data-default-${key}`);
      const maximum = option.getAttribute(`data-max-${key}`);
      if (fallback !== null) input.placeholder = fallback;
      if (maximum !== null) input.max = maximum;
    }
    if (notice) notice.hidden = option.dataset.paintsNoise !== "true";
  }

  select.addEventListener("change", apply);
  apply();
})();
