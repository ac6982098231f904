from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Gallery"

    def ready(self):
        # Notifications hear of publications, likes and follows in the transaction that
        # made them (gallery.notify). dispatch_uid: connected once, however often ready runs.
        from gallery import notify, signals
        from portraits.signals import portrait_published

        portrait_published.connect(
            notify.on_portrait_published, dispatch_uid="gallery.notify.published"
        )
        signals.portrait_liked.connect(
            notify.on_portrait_liked, dispatch_uid="gallery.notify.liked"
        )
        signals.member_followed.connect(
            notify.on_member_followed, dispatch_uid="gallery.notify.followed"
        )
