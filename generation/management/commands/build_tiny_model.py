from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation import inference
from generation.models import GenerationModel
from generation.services import model_register
from generation.tinymodel import build_tiny_model


class Command(BaseCommand):
    help = (
        "Build the tiny offline Stable Diffusion pipeline with random weights (it paints "
        "abstract shapes: for tests and a cold start; `add_demo_model` registers the trained "
        "one) and register it if it is not registered yet, as the default model when no "
        "model is the default. A registered tiny model is left as an administrator left it "
        "(disabled, other limits, not the default)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, default=settings.GENERATION_TINY_MODEL_DIR)
        parser.add_argument("--force", action="store_true", help="Rebuild even if it exists.")

    def handle(self, *args, dir: Path, force: bool, **options):
        if not inference.backend_available():
            raise CommandError(inference.backend_missing_reason())
        if force or not (dir / "model_index.json").exists():
            self.stdout.write(f"Building the tiny model in {dir} …")
            build_tiny_model(dir)
        model, created = model_register(
            name="Likeness tiny (offline demo)",
            slug="likeness-tiny",
            source=str(dir),
            family="sd",
            demo=GenerationModel.Demo.NOISE,
            description=(
                "Random weights, built locally: paints abstract shapes. For tests and a cold "
                "start; the shipped demo model (add_demo_model) paints portraits."
            ),
            limits={
                "default_steps": 20,
                "max_steps": 50,
                "default_guidance": 7.0,
                "max_guidance": 20.0,
                "default_width": 128,
                "default_height": 128,
                "max_width": 512,
                "max_height": 512,
            },
            make_default_if_none=True,
            keep_existing=True,
        )
        if created:
            self.stdout.write(self.style.SUCCESS(f"Registered model “{model.name}” ({dir})."))
            return
        state = "enabled" if model.is_enabled else "disabled"
        self.stdout.write(
            f"Model “{model.name}” is already registered ({state}, source {model.source}); "
            "left as it is."
        )
