"""Error pages for requests the site cannot read: one clear page, nothing saved, no traceback."""

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat


def bad_request(request, exception=None):
    """handler400: Django raises these before any view runs, so no form can answer them."""
    status, title = 400, "This request could not be read"
    if isinstance(exception, RequestDataTooBig):
        status, title = 413, "This form was too large"
        sent = request.META.get("CONTENT_LENGTH", "")
        detail = (
            f"This site takes forms of up to {filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}"
            + (f"; this one was {filesizeformat(int(sent))}" if sent.isdigit() else "")
            + ". Shorten what was typed or pasted and send it again."
        )
    elif isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        detail = (
            f"This form had more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields; "
            "no page of this site sends that many. Reload the page and try again."
        )
    elif isinstance(exception, BadRequest) and str(exception):
        detail = f"{exception} Go back, reload the page and try again."
    else:
        detail = "Go back, reload the page and try again."
    context = {"title": title, "detail": detail}
    return render(request, "400.html", context, status=status)
