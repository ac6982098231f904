from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from generation import inference
from generation.models import GenerationModel
from generation.services import model_register

FAMILY_DEFAULTS = {
    "sd": {"default_width": 512, "default_height": 512, "max_width": 768, "max_height": 768},
    "sdxl": {"default_width": 1024, "default_height": 1024, "max_width": 1536, "max_height": 1536},
    "auto": {"default_width": 512, "default_height": 512, "max_width": 1024, "max_height": 1024},
}


class Command(BaseCommand):
    help = (
        "Register a diffusers text-to-image model (a Hugging Face repo id or a local folder) and, "
        "with --download, fetch its weights now with a progress bar."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="e.g. stabilityai/sd-turbo or /models/my-sd15")
        parser.add_argument("--name")
        parser.add_argument("--slug")
        parser.add_argument("--revision", default="")
        parser.add_argument("--family", choices=["auto", "sd", "sdxl"], default="auto")
        parser.add_argument("--steps", type=int, help="Default steps (e.g. 1–4 for turbo models).")
        parser.add_argument("--guidance", type=float, help="Default guidance (0 for turbo models).")
        parser.add_argument("--size", type=int, help="Default width and height.")
        parser.add_argument("--max-size", type=int)
        parser.add_argument("--download", action="store_true")
        parser.add_argument("--default", action="store_true", help="Make it the default model.")

    def handle(
        self,
        *args,
        source,
        name,
        slug,
        revision,
        family,
        steps,
        guidance,
        size,
        max_size,
        download,
        default,
        **options,
    ):
        if steps is not None and steps < 1:
            raise CommandError(f"--steps must be at least 1, got {steps}.")
        if guidance is not None and guidance < 0:
            raise CommandError(f"--guidance must be 0 or more, got {guidance:g}.")
        for option, value in (("--size", size), ("--max-size", max_size)):
            if value is not None and (value < 64 or value % 8):
                raise CommandError(f"{option} must be a multiple of 8 from 64 up, got {value}.")
        if size and max_size and size > max_size:
            raise CommandError(f"--size {size} is larger than --max-size {max_size}.")
        slug = slug or slugify(source.replace("/", "-"))[:100]
        if download:
            if not inference.backend_available():
                raise CommandError(inference.backend_missing_reason())
            try:
                path = inference.download_model(source, revision=revision, progress=True)
            except Exception as exc:
                raise CommandError(f"Could not download {source}: {exc}") from exc
            self.stdout.write(f"Downloaded to {path}")
        limits = dict(FAMILY_DEFAULTS[family])
        if max_size:
            limits["max_width"] = limits["max_height"] = max_size
        if size:
            limits["default_width"] = limits["default_height"] = size
            # A default above the family's usual maximum raises the maximum with it.
            for key in ("max_width", "max_height"):
                limits[key] = max(limits[key], size)
        for key in ("default_width", "default_height"):
            limits[key] = min(limits[key], limits["max_width"])
        # A default above the maximum would break the model's check constraints: asking
        # for 80 default steps means allowing at least 80 (the same for guidance).
        current = GenerationModel.objects.filter(slug=slug).first()
        for value, default_key, max_key in (
            (steps, "default_steps", "max_steps"),
            (guidance, "default_guidance", "max_guidance"),
        ):
            if value is None:
                continue
            limits[default_key] = value
            maximum = (
                getattr(current, max_key)
                if current is not None
                else GenerationModel._meta.get_field(max_key).default
            )
            if value > maximum:
                limits[max_key] = value
                self.stdout.write(f"Raised {max_key.replace('_', ' ')} to {value:g}.")
        model, created = model_register(
            name=name or source.rstrip("/").rsplit("/", 1)[-1],
            slug=slug,
            source=source,
            revision=revision,
            family=family,
            limits=limits,
            make_default=default,
        )
        verb = "Registered" if created else "Updated"
        note = "" if model.is_enabled else " It is disabled: enable it in the admin."
        self.stdout.write(self.style.SUCCESS(f"{verb} “{model.name}” (slug {model.slug}).{note}"))
