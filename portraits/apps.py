from django.apps import AppConfig


class PortraitsConfig(AppConfig):
    name = "portraits"
    verbose_name = "Portraits"

    def ready(self) -> None:
        from portraits import checks  # noqa: F401  (registers the system checks)
