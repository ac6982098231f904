from django import forms

from generation.models import GenerationModel
from generation.selectors import model_list_enabled, style_list_enabled
from portraits.recipe import MAX_IMAGES_PER_JOB, PROMPT_MAX_LENGTH, SCHEDULERS, SEED_MAX

# Recipe fields whose default and maximum depend on the model: the form field, then the
# model's attributes holding its default and its maximum.
MODEL_DEFAULTED = (
    ("steps", "default_steps", "max_steps"),
    ("guidance_scale", "default_guidance", "max_guidance"),
    ("width", "default_width", "max_width"),
    ("height", "default_height", "max_height"),
)


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


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
                option["attrs"][f"data-default-{key}"] = _number(getattr(model, default))
                option["attrs"][f"data-max-{key}"] = _number(getattr(model, maximum))
            if model.paints_noise:
                option["attrs"]["data-paints-noise"] = "true"
        return option


class JobForm(forms.Form):
    """The create page. Types only: limits and defaults are the service's (they
    depend on the model), and its field errors are put back on this form.

    Steps, guidance and size are left empty, which the service reads as "the chosen
    model's default": the chosen model's defaults show as placeholders and its maxima as
    ``max``, and the page's script swaps them when another model is picked. Without the
    script an empty field still gets the right model's default, since the server fills it.
    """

    prompt = forms.CharField(
        max_length=PROMPT_MAX_LENGTH,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "an old fisherman, weathered face, soft window light"}
        ),
        help_text="Who, how, what light, what mood.",
    )
    style = forms.ChoiceField(required=False)
    negative_prompt = forms.CharField(
        max_length=PROMPT_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What to avoid.",
    )
    model = forms.ChoiceField(widget=ModelSelect)
    seed = forms.IntegerField(
        required=False, min_value=0, max_value=SEED_MAX, help_text="Empty: random."
    )
    steps = forms.IntegerField(required=False, min_value=1, help_text="Empty: the model's default.")
    guidance_scale = forms.FloatField(
        required=False, min_value=0, label="Guidance (CFG)", help_text="Empty: the model's default."
    )
    width = forms.IntegerField(
        required=False,
        min_value=64,
        widget=forms.NumberInput(attrs={"step": 8}),
        help_text="A multiple of 8. Empty: the model's default.",
    )
    height = forms.IntegerField(
        required=False,
        min_value=64,
        widget=forms.NumberInput(attrs={"step": 8}),
        help_text="A multiple of 8. Empty: the model's default.",
    )
    num_images = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_IMAGES_PER_JOB, initial=1, label="Images"
    )
    scheduler = forms.ChoiceField(required=False, label="Sampler")
    init_strength = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label="Start from the portrait's image (strength)",
        help_text="Empty: paint anew from the recipe. 0.1 keeps the picture, 1.0 repaints it fully.",
    )

    def __init__(self, *args, remix: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.models = list(model_list_enabled())
        by_slug = {m.slug: m for m in self.models}
        self.fields["model"].choices = [(m.slug, m.name) for m in self.models]
        self.fields["model"].widget.models = by_slug
        default = next(
            (m for m in self.models if m.is_default), self.models[0] if self.models else None
        )
        if default is not None:
            self.fields["model"].initial = default.slug
        chosen = by_slug.get(str(self["model"].value() or "")) or default
        if chosen is not None:
            for name, default_attr, max_attr in MODEL_DEFAULTED:
                attrs = self.fields[name].widget.attrs
                attrs["placeholder"] = _number(getattr(chosen, default_attr))
                attrs["max"] = _number(getattr(chosen, max_attr))
        self.fields["style"].choices = [("", "No style")] + [
            (s.slug, s.name) for s in style_list_enabled()
        ]
        self.fields["scheduler"].choices = [("", "Model default")] + [
            (name, label) for name, label in SCHEDULERS.items()
        ]
        if not remix:
            del self.fields["init_strength"]

    @property
    def noise_models(self):
        return [m for m in self.models if m.paints_noise]

    def spec(self) -> dict:
        """The job's fields; an empty one takes its default (the model's, a random seed)."""
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}

    def remix_changes(self) -> dict:
        """Every field, an empty one too: the remix form opens with the parent's recipe, so a
        field the member cleared (a style, a negative prompt, a seed) is cleared, not the
        parent's again."""
        return {name: None if value == "" else value for name, value in self.cleaned_data.items()}
