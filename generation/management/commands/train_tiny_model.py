from dataclasses import fields
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation import inference
from generation.training.train import Trainer, TrainingConfig, device_for


class Command(BaseCommand):
    help = (
        "Train the offline portrait model (a tiny Stable Diffusion pipeline) on portraits the "
        "project draws itself, and save it with save_pretrained. The defaults are the recipe "
        "of the shipped weights (generation/weights/likeness-portraits, see its README.md): "
        "about 47 minutes on a 2-core CPU, a few on a CUDA GPU. Checkpoints are kept in "
        "--work; --resume goes on from them after an interruption."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--out",
            type=Path,
            default=settings.DATA_DIR / "models" / "likeness-portraits",
            help="Where to save the pipeline (default: %(default)s). Pass "
            "generation/weights/likeness-portraits to replace the shipped weights.",
        )
        parser.add_argument(
            "--work",
            type=Path,
            default=settings.DATA_DIR / "training" / "likeness-portraits",
            help="Drawn data and checkpoints (default: %(default)s).",
        )
        parser.add_argument("--resume", action="store_true", help="Go on from the checkpoints.")
        parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
        parser.add_argument(
            "--threads", type=int, help="CPU threads for torch (default: torch's own choice)"
        )
        for name, flag in (
            ("seed", "--seed"),
            ("images", "--images"),
            ("size", "--size"),
            ("vae_steps", "--vae-steps"),
            ("unet_steps", "--unet-steps"),
            ("batch", "--batch"),
            ("vae_batch", "--vae-batch"),
            ("checkpoint_every", "--checkpoint-every"),
        ):
            parser.add_argument(flag, dest=name, type=int, help=f"(default: {_default(name)})")
        parser.add_argument(
            "--face-weight",
            dest="face_weight",
            type=float,
            help="How much more the error on the head counts in the UNet's loss "
            f"(default: {_default('face_weight')}, an even loss)",
        )
        parser.add_argument(
            "--features-weight",
            dest="features_weight",
            type=float,
            help="How much more again the error on the eyes and the mouth counts "
            f"(default: {_default('features_weight')})",
        )
        for name, flag in (("unet_lr", "--unet-lr"), ("text_lr", "--text-lr")):
            parser.add_argument(flag, dest=name, type=float, help=f"(default: {_default(name)})")
        parser.add_argument(
            "--init-from",
            type=Path,
            help="A folder this command saved: keep its VAE and tokenizer and train its UNet "
            "and text encoder further, for --unet-steps (a refinement; its training.json is "
            "recorded in the new one's).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bars.")

    def handle(
        self, *args, out: Path, work: Path, resume: bool, device, threads, init_from, **options
    ):
        if not inference.backend_available():
            raise CommandError(inference.backend_missing_reason())
        import torch

        overrides = {
            f.name: options[f.name]
            for f in fields(TrainingConfig)
            if options.get(f.name) is not None
        }
        try:
            config = TrainingConfig(**overrides)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if threads:
            torch.set_num_threads(threads)
        device = device_for(device)
        vae = f"the VAE of {init_from}" if init_from else f"VAE {config.vae_steps} steps"
        self.stdout.write(
            f"Training on {device} ({torch.get_num_threads()} threads): {config.images} "
            f"portraits at {config.size} px, {vae}, UNet and text encoder "
            f"{config.unet_steps} steps. Work folder {work}."
        )
        try:
            trainer = Trainer(
                config,
                work=work,
                out=out,
                device=device,
                resume=resume,
                say=self.stdout.write,
                progress_bars=not options["no_progress"],
                init_from=init_from,
            )
            trainer.run()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        minutes = trainer.record["seconds"] / 60
        self.stdout.write(
            self.style.SUCCESS(
                f"Saved the pipeline in {out} after {minutes:.1f} minutes. Register it with "
                f"`python manage.py add_model {out} --name …`."
            )
        )


def _default(name: str):
    return getattr(TrainingConfig(), name)
