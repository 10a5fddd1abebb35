"""Template filters of the admin: the one date format (`{{ value|when }}`)."""

from django import template

from cafe.admin_base import local_time

register = template.Library()


@register.filter
def when(value) -> str:
    """A date and time in the operator's time zone, the zone shown; "" for none."""
    return local_time(value)
