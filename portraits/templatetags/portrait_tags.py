from django import template

from portraits.lineage import PARAM_LABELS

register = template.Library()


@register.filter
def param_label(name: str) -> str:
    """A recipe key as people read it (``guidance_scale`` → ``guidance``)."""
    return PARAM_LABELS.get(name, name.replace("_", " "))
