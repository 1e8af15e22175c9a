"""Small template helpers used across portals."""
from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def dash(value):
    """The guide shows '--' for an empty cell."""
    if value is None or value == "":
        return "--"
    return value


@register.simple_tag(takes_context=True)
def page_url(context, pageinfo, number=None, per_page=None):
    return pageinfo.url_for(number=number, per_page=per_page)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter(expects_localtime=True)
def stamp(value):
    """A table cell's date and time (Y-m-d H:i:s) that wraps between the date and the time only."""
    if value is None or value == "":
        return "--"
    from django.template.defaultfilters import date
    from django.utils.html import format_html

    return format_html('<span class="nowrap">{}</span> <span class="nowrap">{}</span>',
                       date(value, "Y-m-d"), date(value, "H:i:s"))
