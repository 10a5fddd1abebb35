"""The overview's trend chart, drawn on the server as SVG (no chart library, nothing fetched).

One chart per series of `reporting.hourly_trend`: bars for each hour's syncs
(green), failures that will retry (amber) and dead letters (red), stacked;
under them the edit-to-Odoo time, p50 (dark blue) and p95 (light blue), on
its own scale. Every hour has a tooltip with its numbers.
"""

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

SYNCED, FAILED, DEAD = "#16a34a", "#d97706", "#991b1b"
P50, P95 = "#1d4ed8", "#93c5fd"


def duration_words(ms: float | None) -> str:
    """'450 ms', '2 s', '2.5 s', '1.5 min'; '-' for no value."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}".removesuffix(".0") + " s"
    return f"{ms / 60_000:.1f}".removesuffix(".0") + " min"


def trend_summary(series: dict) -> str:
    """The chart's numbers in one line: '12 synced, 1 failed, 0 dead letters; edit to ...'."""
    t = series["totals"]
    dead = f"{t['dead']} dead letter{'' if t['dead'] == 1 else 's'}"
    return (
        f"{t['synced']} synced, {t['failed']} failed, {dead}; "
        f"edit to Odoo p50 {duration_words(t['p50'])}, p95 {duration_words(t['p95'])}"
    )


def trend_chart(series: dict, hours: list, *, label: str, compact: bool = False) -> SafeString:
    """An SVG of one series of `reporting.hourly_trend` (`hours` are the hours' starts)."""
    slot = 12 if compact else 22
    bars_h, line_h = (34, 18) if compact else (90, 44)
    left, top, gap = (4, 2, 4) if compact else (44, 8, 14)
    width = left + slot * len(hours) + 4
    height = top + bars_h + gap + line_h + (2 if compact else 18)
    most = max([s + f for s, f in zip(series["synced"], series["failed"], strict=True)] + [1])
    slowest = max([v for v in series["p95"] if v is not None] + [1])
    parts = []
    for i, start in enumerate(hours):
        x = left + i * slot
        synced, failed, dead = series["synced"][i], series["failed"][i], series["dead"][i]
        tip = (
            f"{timezone.localtime(start):%H:%M}: {synced} synced, {failed} failed, "
            f"{dead} dead; edit to Odoo p50 {duration_words(series['p50'][i])}, "
            f"p95 {duration_words(series['p95'][i])}"
        )
        y = top + bars_h
        stack = []
        for count, colour in ((synced, SYNCED), (failed - dead, FAILED), (dead, DEAD)):
            h = count / most * bars_h
            if count:
                y -= h
                stack.append((x + 1, f"{y:.1f}", slot - 2, f"{h:.1f}", colour))
        parts.append(
            format_html(
                '<g class="regsync-hour"><title>{}</title>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="transparent"/>{}</g>',
                tip,
                x,
                top,
                slot,
                bars_h + gap + line_h,
                format_html_join(
                    "",
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>',
                    stack,
                ),
            )
        )
    base = top + bars_h + gap + line_h
    for key, colour in (("p95", P95), ("p50", P50)):
        points = [
            f"{left + i * slot + slot / 2:.1f},{base - v / slowest * line_h:.1f}"
            for i, v in enumerate(series[key])
            if v is not None
        ]
        if len(points) == 1:
            points.append(points[0])
        if points:
            parts.append(
                format_html(
                    '<polyline class="regsync-{}" points="{}" fill="none" stroke="{}" '
                    'stroke-width="2"/>',
                    key,
                    " ".join(points),
                    colour,
                )
            )
    axes = format_html(
        '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#9ca3af"/>'
        '<line x1="{l}" y1="{lb}" x2="{r}" y2="{lb}" stroke="#9ca3af"/>',
        l=left,
        r=width - 4,
        b=top + bars_h,
        lb=base,
    )
    if not compact:
        axes += format_html(
            '<text x="{}" y="{}" text-anchor="end" font-size="10">{}</text>'
            '<text x="{}" y="{}" text-anchor="end" font-size="10">{}</text>',
            left - 4,
            top + 8,
            f"{most}/h",
            left - 4,
            top + bars_h + gap + 8,
            duration_words(slowest),
        )
        axes += format_html_join(
            "",
            '<text x="{}" y="{}" font-size="10">{}</text>',
            (
                (left + i * slot, height - 4, f"{timezone.localtime(start):%H:%M}")
                for i, start in enumerate(hours)
                if i % 6 == 0
            ),
        )
    return format_html(
        '<svg class="regsync-trend{}" role="img" width="{}" height="{}" viewBox="0 0 {} {}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}{}</svg>',
        " regsync-trend--compact" if compact else "",
        width,
        height,
        width,
        height,
        f"{label}, last 24 hours: {trend_summary(series)}",
        axes,
        SafeString("".join(parts)),
    )
