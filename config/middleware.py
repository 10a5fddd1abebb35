"""Refuse form posts whose bytes are not UTF-8, before Django guesses another encoding."""

from django.core.exceptions import BadRequest

FORM_TYPE = "application/x-www-form-urlencoded"


class Utf8FormsMiddleware:
    """Every page here declares UTF-8, so a form body in another encoding is not from one.

    Django would decode it as Latin-1 and save mojibake (b"\\xff" becomes "ÿ")
    without a word. Percent-encoded bytes that are not UTF-8 are decoded with
    U+FFFD, which the text rules in cafe.text refuse on the field itself.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.content_type == FORM_TYPE:
            # request.body is bounded by DATA_UPLOAD_MAX_MEMORY_SIZE (a 413 past it).
            try:
                request.body.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("The form was not sent as UTF-8.") from None
        return self.get_response(request)
