from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation"

    def ready(self) -> None:
        from accounts.suspension import suspension_expiry_register, suspension_page_register
        from config.gates import text_gate_register
        from moderation import gate, services
        from portraits.signals import portrait_held_for_review

        # The prompt gate: prompts, titles, descriptions and tags pass the blocklist, and
        # portraits held for review get a case in the queue.
        text_gate_register(gate.text_gate)
        portrait_held_for_review.connect(
            gate.on_portraits_held, dispatch_uid="moderation.gate.portraits_held"
        )
        # A member whose suspension ran out comes back: what it hid comes back with them.
        suspension_expiry_register(services.suspensions_expire)
        # Where accounts sends a suspended member who tries to sign in (H3's page).
        suspension_page_register(_suspension_page_url)


def _suspension_page_url(user) -> str:
    from moderation.views import suspension_page_url  # pages load late, not at start-up

    return suspension_page_url(user)
