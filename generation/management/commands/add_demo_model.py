from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation import inference
from generation.models import GenerationModel
from generation.services import model_make_default, model_register

DESCRIPTION = (
    "Trained by Likeness on portraits it draws itself (train_tiny_model): small stylised "
    "faces at 128 px, not photographs. It follows a prompt's style preset, time of day and "
    "sitter (gender, age, hair, glasses, hat, beard, face shape, skin, light); the expression "
    "and the background colour less reliably (see its model card). Runs on any CPU, fully "
    "offline."
)


class Command(BaseCommand):
    help = (
        "Register the shipped offline portrait model (generation/weights/likeness-portraits) "
        "as the default model: when no model is the default, or when the default is the "
        "random-weights tiny model. Run by every `make run`; a registered one is left as an "
        "administrator left it (disabled, other limits, not the default)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, default=settings.GENERATION_DEMO_MODEL_DIR)

    def handle(self, *args, dir: Path, **options):
        if not inference.backend_available():
            raise CommandError(inference.backend_missing_reason())
        if not (dir / "model_index.json").exists():
            raise CommandError(
                f"No model in {dir}: train one with `python manage.py train_tiny_model "
                f"--out {dir}`, or use `build_tiny_model` (random weights)."
            )
        model, created = model_register(
            name="Likeness portraits (offline demo)",
            slug="likeness-portraits",
            source=str(dir.resolve()),
            family="sd",
            demo=GenerationModel.Demo.PORTRAITS,
            description=DESCRIPTION,
            limits={
                "default_steps": 20,
                "max_steps": 50,
                "default_guidance": 6.0,
                "max_guidance": 20.0,
                "default_width": 128,
                "default_height": 128,
                "max_width": 256,
                "max_height": 256,
            },
            make_default_if_none=True,
            keep_existing=True,
        )
        if created and model.is_enabled and not model.is_default:
            default = GenerationModel.objects.filter(is_default=True).first()
            if default is not None and default.demo == GenerationModel.Demo.NOISE:
                # An earlier `make run` made the random model the default: this one paints
                # what members ask for, so it takes over; an administrator's choice stays.
                model_make_default(model=model)
                model.is_default = True
        if not created:
            state = "enabled" if model.is_enabled else "disabled"
            self.stdout.write(
                f"Model “{model.name}” is already registered ({state}, source {model.source}); "
                "left as it is."
            )
            return
        role = " as the default model" if model.is_default else ""
        self.stdout.write(self.style.SUCCESS(f"Registered model “{model.name}” ({dir}){role}."))
