"""``manage.py c2pa_dev_certs``: a throwaway CA and signing certificate for development."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portraits.dev_ca import DEV_CA_CERT_NAME, DEV_CHAIN_NAME, DEV_KEY_NAME, create_dev_ca


class Command(BaseCommand):
    help = (
        "Write a development CA and a C2PA signing certificate + key issued by it "
        "(default: settings.C2PA_DEV_DIR). Not for production: no trust list knows this CA."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="Folder to write into (default: settings.C2PA_DEV_DIR).",
        )
        parser.add_argument(
            "--force", action="store_true", help="Replace certificates that already exist."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        folder = options["dir"] or getattr(settings, "C2PA_DEV_DIR", None)
        if folder is None:
            raise CommandError("Pass --dir or set C2PA_DEV_DIR in settings.")
        folder = Path(folder)
        existing = [
            folder / name
            for name in (DEV_CA_CERT_NAME, DEV_CHAIN_NAME, DEV_KEY_NAME)
            if (folder / name).exists()
        ]
        # Replacing the key silently would leave earlier portraits signed by a CA that no
        # longer exists anywhere: make that a deliberate choice.
        if existing and not options["force"]:
            raise CommandError(
                "Refusing to overwrite "
                + ", ".join(str(path) for path in existing)
                + " (pass --force to replace them)."
            )
        chain_path, key_path = create_dev_ca(folder)
        self.stdout.write(
            self.style.SUCCESS(f"Wrote a development C2PA CA and signing certificate to {folder}")
        )
        self.stdout.write(f"  certificate chain: {chain_path}")
        self.stdout.write(f"  private key:       {key_path} (mode 0600)")
        self.stdout.write(f"  CA certificate:    {folder / DEV_CA_CERT_NAME} (trust anchor)")
        self._warn_if_settings_point_elsewhere(chain_path, key_path)

    def _warn_if_settings_point_elsewhere(self, chain_path: Path, key_path: Path) -> None:
        for name, written in (("C2PA_SIGNING_CERTS", chain_path), ("C2PA_SIGNING_KEY", key_path)):
            configured = getattr(settings, name, None)
            if configured is not None and Path(configured).resolve() != written.resolve():
                self.stdout.write(
                    self.style.WARNING(
                        f"  note: settings.{name} is {configured}, not this file; "
                        f"set {name}={written} to sign with it."
                    )
                )
