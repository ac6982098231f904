"""``{% recipe_table recipe %}``: a recipe as a member reads it (``portraits/_recipe.html``)."""

from django import template

from portraits.recipe import recipe_display

register = template.Library()


@register.inclusion_tag("portraits/_recipe.html")
def recipe_table(recipe, heading_id: str = "recipe") -> dict:
    """``recipe``: one the viewer may read (``portraits.recipe.recipe_for_viewer``)."""
    return {"recipe_view": recipe_display(recipe), "recipe_heading_id": heading_id}
