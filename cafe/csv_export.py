"""Lists as CSV files a spreadsheet opens safely.

A cell that starts with = + - @ (or a tab or carriage return) is a formula to
Excel, LibreOffice and Google Sheets: a register named "=HYPERLINK(...)" would
run when an operator opens the file. Such cells get a leading apostrophe, which
spreadsheets show as plain text (OWASP's advice on CSV injection).
"""

import csv
from collections.abc import Iterable

from django.http import StreamingHttpResponse
from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """The text of one cell, escaped when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_time(when) -> str:
    """A time as a spreadsheet sorts it: ISO 8601 in the operator's time zone, to the second."""
    return timezone.localtime(when).isoformat(timespec="seconds") if when else ""


class _Echo:
    """csv.writer writes to this; each row comes back as a string to stream."""

    def write(self, value: str) -> str:
        return value


def csv_response(
    filename: str, header: list[str], rows: Iterable[Iterable]
) -> StreamingHttpResponse:
    """A download of `rows` under `header`, streamed row by row (the list may be long)."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # a BOM: Excel then reads the file as UTF-8
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([spreadsheet_safe(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
