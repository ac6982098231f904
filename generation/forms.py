from django import forms

from generation.models import GenerationModel, PromptModifier, StylePreset
from generation.selectors import model_list_enabled, modifier_list_enabled, style_list_enabled
from generation.sweeps import (
    AXIS_GUIDANCE,
    AXIS_PROMPT,
    AXIS_SEEDS,
    AXIS_STEPS,
    AXIS_STYLES,
    MAX_STYLES,
    MIN_CELLS,
)
from portraits.recipe import (
    MAX_IMAGES_PER_JOB,
    PROMPT_MAX_LENGTH,
    SCHEDULERS,
    SEED_MAX,
    a1111_sampler_name,
    img2img_steps,
    number_text,
)

# Recipe fields whose default and maximum depend on the model: the form field, then the
# model's attributes holding its default and its maximum.
MODEL_DEFAULTED = (
    ("steps", "default_steps", "max_steps"),
    ("guidance_scale", "default_guidance", "max_guidance"),
    ("width", "default_width", "max_width"),
    ("height", "default_height", "max_height"),
)
# The fields under "More settings", collapsed by default so that on a phone the main
# action follows the prompt and style; opened when one of them has an error.
ADVANCED_FIELDS = (
    "negative_prompt",
    "model",
    "num_images",
    "seed",
    "steps",
    "guidance_scale",
    "width",
    "height",
    "scheduler",
)
# "Start from this picture": the strength slider's range and where it starts.
STRENGTH_MIN, STRENGTH_STEP, STRENGTH_INITIAL = 0.05, 0.05, 0.5
START_FROM_RECIPE, START_FROM_PICTURE = "recipe", "picture"

# The site's words for what Django would say in its own ("Ensure this value has at most…",
# "Select a valid choice…"): the same sentences the service and the API use.
TEXT_MESSAGES = {"max_length": "At most %(limit_value)d characters (this has %(show_value)d)."}


def img2img_steps_text(steps: int | None, strength: float | None) -> str:
    """What image-to-image will run, said before painting: "Runs 10 of 20 steps: strength
    0.5." (``portraits.recipe.img2img_steps``: the page's script computes the same as the
    member moves the slider.)"""
    if not steps or strength is None:
        return ""
    runs = img2img_steps(steps, strength)
    if runs < 1:
        return (
            f"Runs no step of {steps} at strength {number_text(strength)}: "
            "raise the strength or the steps."
        )
    return f"Runs {runs} of {steps} steps: strength {number_text(strength)}."


def preset_additions(style: StylePreset) -> dict[str, str]:
    """What a style adds to the member's words: text ``before`` and ``after`` their prompt
    (its template around ``{prompt}``), and ``negative`` words it asks the model to avoid."""
    before, _, after = style.prompt_template.partition("{prompt}")
    return {
        "before": before.strip(),
        "after": after.strip().lstrip(",").strip(),
        "negative": style.negative_prompt.strip(),
    }


def model_default_sampler(model: GenerationModel | None) -> str:
    """The sampler's empty choice, named as members know it: "Model default (Euler)" when
    the model names its scheduler, "Model default" when it brings its own (known only once
    it is loaded)."""
    name = a1111_sampler_name(model.default_scheduler) if model is not None else None
    return f"Model default ({name})" if name else "Model default"


class ModelSelect(forms.Select):
    """Each model's option carries its defaults and limits as data attributes
    (``data-default-steps``, ``data-max-steps``…), for the page's script."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.models: dict[str, GenerationModel] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        model = self.models.get(str(value))
        if model is not None:
            for field, default, maximum in MODEL_DEFAULTED:
                key = field.replace("_", "-")
                option["attrs"][f"data-default-{key}"] = number_text(getattr(model, default))
                option["attrs"][f"data-max-{key}"] = number_text(getattr(model, maximum))
            if model.demo:
                option["attrs"]["data-demo"] = model.demo
            option["attrs"]["data-default-sampler"] = model_default_sampler(model)
        return option


class StyleSelect(forms.Select):
    """Each style's option carries what it adds (``data-before``, ``data-after``,
    ``data-negative``), which the page's script shows under the select."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.additions: dict[str, dict[str, str]] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        for key, text in self.additions.get(str(value), {}).items():
            option["attrs"][f"data-{key}"] = text
        return option


class RangeInput(forms.NumberInput):
    input_type = "range"


class JobForm(forms.Form):
    """The create page. Types only: limits and defaults are the service's (they
    depend on the model), and its field errors are put back on this form, together with
    this form's own (``generation.views``: every error in one answer).

    Steps, guidance and size are left empty, which the service reads as "the chosen
    model's default": the chosen model's defaults show as placeholders and its maxima as
    ``max``, and the page's script swaps them when another model is picked. Without the
    script an empty field still gets the right model's default, since the server fills it.
    """

    prompt = forms.CharField(
        # Required by the service, which says so in the site's words with every other
        # error; the attribute tells browsers and screen readers.
        required=False,
        max_length=PROMPT_MAX_LENGTH,
        error_messages=TEXT_MESSAGES,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "required": True,
                "placeholder": "an old fisherman, weathered face, soft window light",
            }
        ),
        help_text="Who, how, what light, what mood.",
    )
    style = forms.ChoiceField(
        required=False,
        widget=StyleSelect,
        # The page shows, in the help text's place, what the chosen style adds (and the
        # script keeps it current): its id is the one Django's aria-describedby names.
        help_text="What the style adds to your words.",
        error_messages={"invalid_choice": "Unknown style “%(value)s”."},
    )
    negative_prompt = forms.CharField(
        max_length=PROMPT_MAX_LENGTH,
        required=False,
        error_messages=TEXT_MESSAGES,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What to avoid.",
    )
    model = forms.ChoiceField(
        required=False,
        widget=ModelSelect,
        error_messages={"invalid_choice": "Unknown model “%(value)s”."},
    )
    # Ranges are the service's (with its messages); min and max here are hints for the
    # browser's number keyboard and arrows only.
    seed = forms.IntegerField(
        required=False,
        widget=forms.NumberInput(attrs={"min": 0, "max": SEED_MAX}),
        help_text="Empty: random. The same seed and recipe paint the same picture.",
    )
    steps = forms.IntegerField(
        required=False,
        widget=forms.NumberInput(attrs={"min": 1}),
        help_text="Empty: the model's default.",
    )
    guidance_scale = forms.FloatField(
        required=False,
        widget=forms.NumberInput(attrs={"min": 0, "step": "any"}),
        label="Guidance (CFG)",
        help_text="How closely to follow the prompt. Empty: the model's default.",
    )
    width = forms.IntegerField(
        required=False,
        widget=forms.NumberInput(attrs={"min": 64, "step": 8}),
        help_text="A multiple of 8. Empty: the model's default.",
    )
    height = forms.IntegerField(
        required=False,
        widget=forms.NumberInput(attrs={"min": 64, "step": 8}),
        help_text="A multiple of 8. Empty: the model's default.",
    )
    num_images = forms.IntegerField(
        required=False,
        initial=1,
        label="Images",
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_IMAGES_PER_JOB}),
        help_text=f"From 1 to {MAX_IMAGES_PER_JOB}, each with its own seed.",
    )
    scheduler = forms.ChoiceField(
        required=False,
        label="Sampler",
        error_messages={"invalid_choice": "Choose one of the samplers listed."},
    )
    start_from = forms.ChoiceField(
        required=False,
        label="Start from",
        widget=forms.RadioSelect,
        choices=[
            (START_FROM_RECIPE, "Paint anew from the recipe"),
            (START_FROM_PICTURE, "Start from this picture"),
        ],
        initial=START_FROM_RECIPE,
        error_messages={"invalid_choice": "Choose how to start."},
    )
    init_strength = forms.FloatField(
        required=False,
        initial=STRENGTH_INITIAL,
        label="Strength",
        widget=RangeInput(attrs={"min": STRENGTH_MIN, "max": 1, "step": STRENGTH_STEP}),
        help_text="Low keeps the picture, high repaints it.",
    )

    modifiers = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Add to the prompt",
        help_text="Each chip adds its words to the end of your prompt.",
        error_messages={"invalid_choice": "Unknown modifier “%(value)s”."},
    )

    def __init__(self, *args, remix: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.remix = remix
        # What the studio suggests to this member (``taste_show``), or nothing.
        self.taste: dict = {}
        self.modifiers = list(modifier_list_enabled()) if not remix else []
        if remix:
            del self.fields["modifiers"]
        else:
            self.fields["modifiers"].choices = [(m.slug, m.name) for m in self.modifiers]
        self.models = list(model_list_enabled())
        by_slug = {m.slug: m for m in self.models}
        self.fields["model"].choices = [(m.slug, m.name) for m in self.models]
        self.fields["model"].widget.models = by_slug
        default = next(
            (m for m in self.models if m.is_default), self.models[0] if self.models else None
        )
        if default is not None:
            self.fields["model"].initial = default.slug
        self.chosen_model = by_slug.get(str(self["model"].value() or "")) or default
        if self.chosen_model is not None:
            for name, default_attr, max_attr in MODEL_DEFAULTED:
                attrs = self.fields[name].widget.attrs
                attrs["placeholder"] = number_text(getattr(self.chosen_model, default_attr))
                attrs["max"] = number_text(getattr(self.chosen_model, max_attr))
        self.styles = list(style_list_enabled())
        self.fields["style"].choices = [("", "No style")] + self._style_choices()
        self.fields["style"].widget.additions = {s.slug: preset_additions(s) for s in self.styles}
        self.fields["scheduler"].choices = [("", model_default_sampler(self.chosen_model))] + [
            (name, label) for name, label in SCHEDULERS.items()
        ]
        if not remix:
            del self.fields["start_from"]
            del self.fields["init_strength"]
        else:
            self._strength_setup()

    def taste_show(self, taste: dict) -> None:
        """Order the style picker by the studio's suggestions (``selectors.taste_studio``)
        and show them: for a page about to be shown, not a submission that succeeds."""
        self.taste = taste
        self.fields["style"].choices = [("", "No style")] + self._style_choices()

    def _style_choices(self) -> list:
        """The styles, and with a member's taste, "Suggested for you" first, in its order
        (the exploration slot last), then the others in the member's order."""
        names = {s.slug: s.name for s in self.styles}
        suggested = [s["slug"] for s in self.taste.get("styles", []) if s["slug"] in names]
        if not suggested:
            return list(names.items())
        order = [slug for slug in self.taste.get("style_order", []) if slug in names]
        order += [slug for slug in names if slug not in order]
        return [
            ("Suggested for you", [(slug, names[slug]) for slug in suggested]),
            ("Other styles", [(slug, names[slug]) for slug in order if slug not in suggested]),
        ]

    @property
    def suggested_styles(self) -> list[dict]:
        return self.taste.get("styles", [])

    @property
    def suggested_modifiers(self) -> list[dict]:
        return self.taste.get("modifiers", []) if "modifiers" in self.fields else []

    def _strength_setup(self) -> None:
        # A form filled in from an image-to-image job ("Edit and resubmit") starts from
        # the picture, at that job's strength.
        if not self.is_bound and self.initial.get("init_strength") is not None:
            self.initial.setdefault("start_from", START_FROM_PICTURE)
        # A strength off the slider's 0.05 grid (one sent through the API) would snap to
        # the nearest notch when shown: the slider takes any value then.
        strength = _asnumber_text(self["init_strength"].value(), float)
        if (
            strength is not None
            and abs(strength / STRENGTH_STEP - round(strength / STRENGTH_STEP)) > 1e-6
        ):
            self.fields["init_strength"].widget.attrs["step"] = "any"

    # --- What the template shows -----------------------------------------------------

    @property
    def demo_models(self):
        return [m for m in self.models if m.demo]

    @property
    def chosen_demo(self) -> str:
        return self.chosen_model.demo if self.chosen_model is not None else ""

    def main_fields(self):
        return [field for field in self if field.name in ("prompt", "style")]

    @property
    def modifiers_open(self) -> bool:
        """The prompt builder's fold opens when a chip is ticked, or refused."""
        return "modifiers" in self.fields and bool(
            self["modifiers"].value() or self.errors.get("modifiers")
        )

    def modifier_groups(self) -> list[dict]:
        """The prompt builder's chips by category: each with its words and whether it is
        ticked (a form sent back with errors keeps them)."""
        chosen = set(self["modifiers"].value() or []) if "modifiers" in self.fields else set()
        groups: dict[str, dict] = {}
        for modifier in self.modifiers:
            group = groups.setdefault(
                modifier.category,
                {"label": modifier.get_category_display(), "chips": []},
            )
            group["chips"].append(
                {
                    "slug": modifier.slug,
                    "name": modifier.name,
                    "text": modifier.text,
                    "checked": modifier.slug in chosen,
                    "id": f"id_modifiers_{modifier.slug}",
                }
            )
        order = [value for value, _ in PromptModifier.Category.choices]
        return [groups[key] for key in sorted(groups, key=order.index)]

    def advanced_fields(self):
        return [field for field in self if field.name in ADVANCED_FIELDS]

    @property
    def advanced_open(self) -> bool:
        """The "More settings" fold opens when a field inside it has an error."""
        return any(name in self.errors for name in ADVANCED_FIELDS)

    def style_list(self) -> list[dict[str, str]]:
        """Every style with what it adds (the list a browser without script shows)."""
        return [{"name": s.name, **preset_additions(s)} for s in self.styles]

    def chosen_style_additions(self) -> dict[str, str] | None:
        chosen = str(self["style"].value() or "")
        return next((preset_additions(s) for s in self.styles if s.slug == chosen), None)

    @property
    def starts_from_picture(self) -> bool:
        return self.remix and self["start_from"].value() == START_FROM_PICTURE

    def img2img_steps_text(self) -> str:
        """What image-to-image will run ("Runs 10 of 20 steps: strength 0.5."), for the
        steps and strength as the form stands (the model's default steps when the field is empty)."""
        if not self.remix:
            return ""
        steps = _asnumber_text(self["steps"].value(), int)
        if steps is None and self.chosen_model is not None:
            steps = self.chosen_model.default_steps
        strength = _asnumber_text(self["init_strength"].value(), float)
        return img2img_steps_text(steps, STRENGTH_INITIAL if strength is None else strength)

    # --- What it submits -------------------------------------------------------------

    def clean(self):
        cleaned = super().clean()
        if (
            self.remix
            and cleaned.get("start_from") == START_FROM_PICTURE
            and cleaned.get("init_strength") is None
            and "init_strength" not in self.errors
        ):
            self.add_error("init_strength", "Choose a strength to start from this picture.")
        return cleaned

    def _asked(self) -> dict:
        asked = dict(self.cleaned_data)
        # The slider always sends a value: it counts unless the member chose to paint
        # anew. A post without the choice (a script's) means what its strength says.
        if asked.pop("start_from", None) == START_FROM_RECIPE:
            asked["init_strength"] = None
        return asked

    def spec(self) -> dict:
        """The job's fields; an empty one takes its default (the model's, a random seed)."""
        return {name: value for name, value in self._asked().items() if value not in (None, "")}

    def remix_changes(self) -> dict:
        """Every field, an empty one too: the remix form opens with the parent's recipe, so a
        field the member cleared (a style, a negative prompt, a seed) is cleared, not the
        parent's again."""
        return {name: None if value == "" else value for name, value in self._asked().items()}


def _asnumber_text(value, kind):
    try:
        return kind(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class SweepForm(JobForm):
    """The sweep page: a job's recipe (its base, one image per cell) and the axis to paint
    it along, with each axis's values. Types only, as ``JobForm``: the service checks the
    cells and says what is wrong with each."""

    axis = forms.ChoiceField(
        choices=[
            (AXIS_STYLES, "Styles: the same idea in several styles"),
            (AXIS_SEEDS, "Variations: the same recipe, new seeds"),
            (AXIS_GUIDANCE, "Guidance: how closely to follow the words"),
            (AXIS_STEPS, "Steps"),
            (AXIS_PROMPT, "Prompt alternatives: every {a|b} of the prompt"),
        ],
        initial=AXIS_STYLES,
        widget=forms.RadioSelect,
        label="Sweep along",
        error_messages={"invalid_choice": "Choose what to sweep."},
    )
    styles = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Styles",
        help_text=f"Two to {MAX_STYLES}.",
        error_messages={"invalid_choice": "Unknown style “%(value)s”."},
    )
    variations = forms.IntegerField(
        required=False,
        initial=4,
        widget=forms.NumberInput(attrs={"min": MIN_CELLS}),
        help_text="How many new seeds.",
    )
    values = forms.CharField(
        required=False,
        max_length=200,
        label="Values",
        widget=forms.TextInput(attrs={"placeholder": "3, 7, 12", "inputmode": "decimal"}),
        help_text="For guidance or steps: the values to try, separated by commas.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["num_images"]
        self.fields["styles"].choices = [(s.slug, s.name) for s in self.styles]
        self.fields["style"].help_text = "For every cell, unless you sweep the styles."
        self.fields[
            "prompt"
        ].help_text = "For prompt alternatives, write them in braces: a {smiling|serious} woman."

    def taste_show(self, taste: dict) -> None:
        super().taste_show(taste)
        # Suggested first, as the create form's picker orders them.
        self.fields["styles"].choices = [
            choice
            for group in self._style_choices()
            for choice in (group[1] if isinstance(group[1], list) else [group])
        ]

    def axis_values(self):
        """What ``generation.sweeps.sweep_cells`` takes as the chosen axis's values."""
        axis = self.cleaned_data.get("axis")
        if axis == AXIS_STYLES:
            return self.cleaned_data.get("styles") or []
        if axis == AXIS_SEEDS:
            return self.cleaned_data.get("variations")
        if axis in (AXIS_GUIDANCE, AXIS_STEPS):
            return self.cleaned_data.get("values") or ""
        return None

    def spec(self) -> dict:
        spec = super().spec()
        for name in ("axis", "styles", "variations", "values"):
            spec.pop(name, None)
        if self.cleaned_data.get("axis") == AXIS_STYLES:
            spec.pop("style", None)
        return spec

    def error_field(self, name: str) -> str | None:
        """Where the service's error about ``name`` shows on this form (its ``values``
        are this axis's field)."""
        if name == "values":
            return {AXIS_STYLES: "styles", AXIS_SEEDS: "variations"}.get(
                self.cleaned_data.get("axis"), "values"
            )
        return name if name in self.fields else None
