// The create and remix form. Without this script the page still says everything, as it
// stood when rendered; the script keeps it current as the member changes the form.
//
// - Model: steps, guidance and size left empty mean "the chosen model's default" (the
//   server fills them in). Each model's <option> carries its defaults and maxima as data
//   attributes (data-default-steps, data-max-steps, ...); when another model is picked, its
//   defaults become the placeholders, its maxima the limits, and the demo-model notice
//   shows only for a model that paints noise, and the sampler's empty choice names the
//   model's own ("Model default (Euler)").
// - Style: each style's <option> carries what it adds (data-before, data-after,
//   data-negative), said under the select in the words the server uses.
// - Remix: "Start from this picture" shows the strength slider, its number, and how many
//   steps image-to-image will run ("Runs 10 of 20 steps: strength 0.5."), which is
//   int(steps × strength), as the pipeline computes it.
(function () {
  "use strict";
  const form = document.querySelector("form.job-form");
  if (!form) return;
  const elements = form.elements;

  // --- Model ---------------------------------------------------------------------------
  const FIELDS = ["steps", "guidance_scale", "width", "height"];
  const model = elements.model;
  const notice = document.getElementById("demo-model-notice");

  function applyModel() {
    const option = model && model.selectedOptions[0];
    if (!option) return;
    for (const name of FIELDS) {
      const input = elements[name];
      if (!input) continue;
      const key = name.replace("_", "-");
      const fallback = option.getAttribute(`data-default-${key}`);
      const maximum = option.getAttribute(`data-max-${key}`);
      if (fallback !== null) input.placeholder = fallback;
      if (maximum !== null) input.max = maximum;
    }
    if (notice) {
      const demo = option.dataset.demo || "";
      notice.hidden = !demo;
      for (const text of notice.querySelectorAll("[data-demo-text]")) {
        text.hidden = text.dataset.demoText !== demo;
      }
    }
    const sampler = elements.scheduler;
    if (sampler && sampler.options[0] && option.dataset.defaultSampler) {
      sampler.options[0].textContent = option.dataset.defaultSampler;
    }
  }

  // --- Style ---------------------------------------------------------------------------
  const style = elements.style;
  const styleAdds = style && document.getElementById(`${style.id}_helptext`);

  function styleSentence(option) {
    if (!option || !option.value) return "Your prompt is painted as you write it.";
    const before = option.dataset.before || "";
    const after = option.dataset.after || "";
    const negative = option.dataset.negative || "";
    const parts = [];
    if (before) parts.push(`“${before}” before your prompt`);
    if (after) parts.push(`“${after}” after it`);
    let text = parts.length ? `Adds ${parts.join(" and ")}.` : "Adds no words to your prompt.";
    if (negative) text += ` Asks the model to avoid “${negative}”.`;
    return text;
  }

  function applyStyle() {
    if (styleAdds) styleAdds.textContent = styleSentence(style.selectedOptions[0]);
  }

  // --- Image-to-image ------------------------------------------------------------------
  const strength = elements.init_strength;
  const strengthBlock = document.getElementById("strength-block");
  const strengthValue = document.getElementById("strength-value");
  const stepsText = document.getElementById("img2img-steps");

  function number(value) {
    // As Python's "%g" writes a strength: 0.5, 0.05, 1.
    return String(Number(value));
  }

  function applyStrength() {
    if (!strength) return;
    const picture = form.querySelector("input[name=start_from]:checked");
    if (strengthBlock) strengthBlock.hidden = !picture || picture.value !== "picture";
    const value = Number(strength.value);
    if (strengthValue) strengthValue.textContent = number(value);
    const stepsInput = elements.steps;
    const steps = parseInt((stepsInput && (stepsInput.value || stepsInput.placeholder)) || "", 10);
    if (!stepsText || !(steps > 0)) return;
    const runs = Math.floor(steps * value);
    stepsText.textContent =
      runs < 1
        ? `Runs no step of ${steps} at strength ${number(value)}: raise the strength or the steps.`
        : `Runs ${runs} of ${steps} steps: strength ${number(value)}.`;
  }

  if (model) model.addEventListener("change", () => { applyModel(); applyStrength(); });
  if (style) style.addEventListener("change", applyStyle);
  if (strength) {
    strength.addEventListener("input", applyStrength);
    for (const radio of form.querySelectorAll("input[name=start_from]")) {
      radio.addEventListener("change", applyStrength);
    }
    if (elements.steps) elements.steps.addEventListener("input", applyStrength);
  }
  applyModel();
  applyStyle();
  applyStrength();
})();
