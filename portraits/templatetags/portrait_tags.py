from django import template

from portraits.recipe import LABELS, param_display
from portraits.selectors import portrait_title_for

register = template.Library()


@register.filter
def param_label(name: str) -> str:
    """A recipe key as people read it (``guidance_scale`` → ``guidance``)."""
    return LABELS.get(name, name.replace("_", " "))


@register.filter
def param_value(value, name: str):
    """``{{ values.0|param_value:name }}``: a changed parameter's value as people read it
    (a sampler by the create form's name, not its diffusers class)."""
    return param_display(name, value)


@register.simple_tag(takes_context=True)
def portrait_title(context, portrait) -> str:
    """``{% portrait_title portrait as title %}``: its title as the page's ``user`` may read
    it (``portraits.selectors.portrait_title_for``; no ``user``: as anyone). A view
    showing a list decides what is withheld for all of it first (``portraits_withheld``),
    so this runs no query."""
    return portrait_title_for(portrait=portrait, viewer=context.get("user"))
