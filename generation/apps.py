from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self) -> None:
        from config.health import health_report_register
        from generation.presenters import sweep_origin
        from generation.selectors import portrait_has_active_remix_jobs, workers_health
        from generation.services.taste import on_portrait_deleting, on_portrait_published
        from portraits.selectors import portrait_in_use_register, portrait_origin_register
        from portraits.signals import portrait_deleting, portrait_published

        # A portrait a queued or running remix job builds on keeps a tombstone when
        # deleted: portraits asks, through this check, without importing generation.
        portrait_in_use_register(portrait_has_active_remix_jobs)
        # A sweep's portrait says so on its page and in the API, with its sibling cells.
        portrait_origin_register(sweep_origin)
        # /healthz says how many workers are up (config may not import generation).
        health_report_register("workers", workers_health)
        # Publishing and deleting one's own portrait say something of one's taste.
        portrait_published.connect(on_portrait_published, dispatch_uid="taste-publish")
        portrait_deleting.connect(on_portrait_deleting, dispatch_uid="taste-delete")
