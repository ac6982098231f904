from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import pre_delete


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Gallery"

    def ready(self):
        # Notifications hear of publications, likes and follows in the transaction that
        # made them (gallery.notify). dispatch_uid: connected once, however often ready runs.
        from gallery import notify, services, signals
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
        # Deleting an account deletes its likes by cascade: take them out of the
        # portraits' counters first, in the same transaction (gallery.services).
        pre_delete.connect(
            services.on_user_deleting,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="gallery.services.user_deleting",
        )
