"""``{% icon "edit" %}``: an action icon of the User module, rendered once per process and name.

The icons do not depend on the request, and a list shows several on each of its rows: including
``residents/includes/icon.html`` for every one of them was a good part of the User list's rendering.
"""
from __future__ import annotations

from functools import lru_cache

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
@lru_cache(maxsize=32)
def icon(name: str) -> SafeString:
    return render_to_string("residents/includes/icon.html", {"name": str(name)})  # a template's output: safe
