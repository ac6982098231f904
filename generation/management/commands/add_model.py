from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from generation import inference
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
        if download:
            if not inference.backend_available():
                raise CommandError(inference.backend_missing_reason())
            try:
                path = inference.download_model(source, revision=revision, progress=True)
            except Exception as exc:
                raise CommandError(f"Could not download {source}: {exc}") from exc
            self.stdout.write(f"Downloaded to {path}")
        limits = dict(FAMILY_DEFAULTS[family])
        if size:
            limits["default_width"] = limits["default_height"] = size
        if max_size:
            limits["max_width"] = limits["max_height"] = max_size
        for key in ("default_width", "default_height"):
            limits[key] = min(limits[key], limits["max_width"])
        if steps is not None:
            limits["default_steps"] = steps
        if guidance is not None:
            limits["default_guidance"] = guidance
        model, created = model_register(
            name=name or source.rstrip("/").rsplit("/", 1)[-1],
            slug=slug or slugify(source.replace("/", "-"))[:100],
            source=source,
            revision=revision,
            family=family,
            limits=limits,
            make_default=default,
        )
        verb = "Registered" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} “{model.name}” (slug {model.slug})."))
