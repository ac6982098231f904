from django import forms

from generation.models import MAX_IMAGES_PER_JOB, PROMPT_MAX_LENGTH, SEED_MAX
from generation.selectors import model_list_enabled, style_list_enabled
from generation.services import SCHEDULERS


class JobForm(forms.Form):
    """The create page. Types only: limits and defaults are the service's (they
    depend on the model), and its field errors are put back on this form."""

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
    model = forms.ChoiceField()
    seed = forms.IntegerField(
        required=False, min_value=0, max_value=SEED_MAX, help_text="Empty: random."
    )
    steps = forms.IntegerField(required=False, min_value=1)
    guidance_scale = forms.FloatField(required=False, min_value=0, label="Guidance (CFG)")
    width = forms.IntegerField(required=False, min_value=64, help_text="A multiple of 8.")
    height = forms.IntegerField(required=False, min_value=64, help_text="A multiple of 8.")
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
        self.fields["model"].choices = [(m.slug, m.name) for m in self.models]
        default = next(
            (m for m in self.models if m.is_default), self.models[0] if self.models else None
        )
        if default is not None and not self.is_bound:
            self.fields["model"].initial = default.slug
            for name, attr in (
                ("steps", "default_steps"),
                ("guidance_scale", "default_guidance"),
                ("width", "default_width"),
                ("height", "default_height"),
            ):
                self.fields[name].initial = getattr(default, attr)
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
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}
