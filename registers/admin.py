"""The registers admin: list, forms and actions, every write through registers.services."""

from collections import Counter

from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_field
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from cafe import access
from cafe.admin_base import (
    CsvExportAdmin,
    TenantScopedAdmin,
    humanize_until,
    local_time,
    redirect_back,
    render_confirmation,
)
from cafe.csv_export import csv_time
from registers import services
from registers.access import registers_for
from registers.forms import RegisterAddForm, RegisterChangeForm, RenameForm
from registers.models import PENDING_STATES, ErrorKind, PosConfig, SyncState, when_next_tried
from registers.state import Event

BADGE_COLOURS = {
    SyncState.PENDING_CREATE: ("#1d4ed8", "#dbeafe"),
    SyncState.PENDING_UPDATE: ("#92400e", "#fef3c7"),
    SyncState.SYNCED: ("#166534", "#dcfce7"),
    SyncState.SYNC_ERROR: ("#991b1b", "#fee2e2"),
}
ERROR_TRIM = 80
# Dead letters first, then rows that failed and wait to retry, then the rest.
STATE_RANK = Case(
    When(sync_state=SyncState.SYNC_ERROR, then=Value(0)),
    When(
        Q(sync_state__in=[SyncState.PENDING_CREATE, SyncState.PENDING_UPDATE])
        & Q(sync_retries__gt=0),
        then=Value(1),
    ),
    When(sync_state=SyncState.PENDING_CREATE, then=Value(2)),
    When(sync_state=SyncState.PENDING_UPDATE, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


LOCAL_ONLY = "local_only"
LOCAL_ONLY_TITLE = "Its tenant does not sync to Odoo (Starter plan or no Odoo connection)"


def register_badge_html(register: PosConfig):
    """The register's badge: its sync state, or "Local only" when its tenant has no Odoo."""
    if not register.tenant.has_odoo and register.odoo_pos_config_id is None:
        return sync_badge_html(LOCAL_ONLY)
    return sync_badge_html(register.sync_state)


def sync_badge_html(state: str):
    fg, bg = BADGE_COLOURS.get(state, ("#374151", "#f3f4f6"))
    if state == LOCAL_ONLY:
        return format_html(
            '<span class="regsync-badge regsync-badge--local" title="{}" style="color:#374151;'
            "background:#f3f4f6;padding:2px 8px;border-radius:10px;font-weight:600;"
            'white-space:nowrap">Local only</span>',
            LOCAL_ONLY_TITLE,
        )
    label = SyncState(state).label if state in SyncState.values else state
    return format_html(
        '<span class="regsync-badge regsync-badge--{}" style="color:{};background:{};'
        'padding:2px 8px;border-radius:10px;font-weight:600;white-space:nowrap">{}</span>',
        state,
        fg,
        bg,
        label,
    )


# What each history entry means, in an operator's words (the technical name in a tooltip).
EVENT_WORDS = {
    "added": "Added",
    "renamed": "Renamed",
    "deactivated": "Deactivated",
    "reactivated": "Reactivated",
    "prefix_changed": "Sequence prefix changed (stays local)",
    "adopted": "Adopted: a config made in Odoo became this register",
    Event.EDITED: "Change queued for Odoo",
    Event.CREATE_LANDED: "Created in Odoo",
    Event.LINKED_EXISTING: "Linked to the existing config in Odoo",
    Event.WRITE_LANDED: "Change written to Odoo",
    Event.ATTEMPT_FAILED: "Odoo failed; will try again",
    Event.DEAD_LETTERED: "Gave up: needs an operator",
    Event.RELINKED: "To be created again in Odoo (its Odoo record points nowhere)",
    Event.SYNC_ENABLED: "Queued: its tenant now syncs to Odoo",
    Event.OPERATOR_RETRY: "Retried by hand",
    Event.OPERATOR_RECREATE: "To be created again in Odoo, by hand",
    Event.LINKED_BY_OPERATOR: "Linked by hand to an existing config in Odoo",
    Event.FORCED_CREATE: "To be created as a new config in Odoo, by hand",
    Event.DRIFT_FIXED: "Changed in Odoo: local wins, to be written to Odoo again",
    Event.ODOO_VALUE_ACCEPTED: "Changed in Odoo: took Odoo's value",
}
STATE_WORDS = {
    SyncState.PENDING_CREATE: "waiting to be created in Odoo",
    SyncState.PENDING_UPDATE: "change waiting for Odoo",
    SyncState.SYNCED: "in step with Odoo",
    SyncState.SYNC_ERROR: "gave up",
}


def event_words(event) -> str:
    """A history entry as an operator reads it: what happened, and the state it left."""
    words = EVENT_WORDS.get(event.action, event.action.replace("_", " ").capitalize())
    if event.to_state and event.to_state != event.from_state:
        words += f" ({STATE_WORDS.get(event.to_state, event.to_state)})"
    return words


def trim_error(text: str, limit: int = ERROR_TRIM) -> str:
    """The first line of an error, cut to `limit` characters, '…' when anything was dropped."""
    lines = (text or "").strip().splitlines()
    if not lines:
        return ""
    first = lines[0].strip()
    if len(first) > limit:
        return first[: limit - 1].rstrip() + "…"
    return first + (" …" if len(lines) > 1 else "")


def _int_or_none(raw: str) -> int | None:
    return int(raw) if raw.strip().isdigit() else None


def plural(count: int, noun: str = "register") -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def summarise(done: Counter, left: Counter, *, verb: str) -> str:
    """'3 registers queued for Odoo, 1 left alone: no Odoo id yet.'"""
    parts = [f"{plural(n)} {what}" for what, n in done.items()]
    parts += [f"{n} left alone: {why}" for why, n in left.items()]
    return (", ".join(parts) or f"Nothing to {verb}") + "."


# --- what an edit or a retry does to a register ------------------------------------------

QUEUED_FOR_ODOO = "queued for Odoo"
WITH_PENDING_CREATE = "saved; Odoo gets it with the pending create"
HERE_ONLY = "saved here only (no Odoo id yet)"
NEEDS_OPERATOR = "creating it in Odoo again needs an operator (superuser)"

RETRY_WORDS = {
    services.RetryOutcome.QUEUED_UPDATE: QUEUED_FOR_ODOO,
    services.RetryOutcome.QUEUED_CREATE: "queued to be created in Odoo",
    services.RetryOutcome.RECREATE: "queued to be created in Odoo again (deleted there)",
    services.RetryOutcome.RETRIED: "tried again now with fresh attempts",
}


def write_effect(row: PosConfig) -> str:
    """Where a name/active edit of `row` goes, read from its state (before or after the edit)."""
    if row.sync_state == SyncState.PENDING_CREATE:
        return WITH_PENDING_CREATE
    if row.odoo_pos_config_id is None:
        return HERE_ONLY
    return QUEUED_FOR_ODOO


def left_alone_reason(row: PosConfig, outcome: str) -> str:
    if outcome == services.RetryOutcome.NEEDS_OPERATOR:
        return NEEDS_OPERATOR
    if row.sync_state == SyncState.SYNCED:
        return "already in step with Odoo" if row.odoo_pos_config_id else "not synced to Odoo"
    return "already queued and not failed yet"


def retry_preview(user, row: PosConfig) -> str:
    outcome = services.plan_retry(row, operator=access.may_override_odoo(user))
    if outcome in RETRY_WORDS:
        return RETRY_WORDS[outcome]
    return "left alone: " + left_alone_reason(row, outcome)


def retry_registers(user, rows) -> tuple[Counter, Counter]:
    """Run 'Retry sync now' on each row as `user`; (done, left alone) counted by wording."""
    done, left = Counter(), Counter()
    operator = access.may_override_odoo(user)
    actor = user.get_username()
    for row in rows:
        outcome = services.retry_sync(row, operator=operator, actor=actor)
        if outcome in RETRY_WORDS:
            done[RETRY_WORDS[outcome]] += 1
        else:
            left[left_alone_reason(row, outcome)] += 1
    return done, left


# --- the admin ---------------------------------------------------------------------------


class RetryingFilter(admin.SimpleListFilter):
    """Backing off: pending rows that failed at least once and wait for their next attempt."""

    title = "retrying"
    parameter_name = "retrying"

    def lookups(self, request, model_admin):
        return [("yes", "Failed, waiting to retry")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(
                sync_state__in=[SyncState.PENDING_CREATE, SyncState.PENDING_UPDATE],
                sync_retries__gt=0,
            )
        return queryset


def next_try(tenant, row_due=None) -> str:
    """'in 4 min', 'due now', ...: the banner and the rows of a tenant say the same (when_next_tried)."""
    if tenant.odoo_paused_at is not None and tenant.has_odoo:
        return "when the connection is fixed"
    return humanize_until(when_next_tried(tenant, row_due)) or "at the next tick"


def tenant_banners(user) -> list[dict]:
    """The tenants this user sees whose registers are not reaching Odoo now, and why."""
    troubled = (
        access.tenants_for(user)
        .with_odoo()
        .filter(Q(odoo_paused_at__isnull=False) | Q(odoo_unreachable_since__isnull=False))
        .order_by("name")
    )
    banners = []
    for tenant in troubled:
        if tenant.odoo_paused_at:
            text = (
                f"{tenant.name}: paused since {local_time(tenant.odoo_paused_at)}. "
                f"{tenant.odoo_paused_reason} Nothing is sent to its Odoo until the connection "
                "is fixed."
            )
        else:
            text = (
                f"{tenant.name}: Odoo unreachable since {local_time(tenant.odoo_unreachable_since)}"
                f"; next try {next_try(tenant)}. "
                "Its registers wait, uncharged."
            )
        banners.append({"text": text, "url": reverse("admin:cafe_tenant_change", args=[tenant.pk])})
    return banners


@admin.register(PosConfig)
class PosConfigAdmin(CsvExportAdmin, TenantScopedAdmin):
    list_display = [
        "name",
        "tenant",
        "active",
        "prefix",
        "odoo_id",
        "sync_badge",
        "retries",
        "next_attempt",
        "last_error",
    ]
    list_display_links = ["name"]
    list_filter = [
        ("tenant", admin.RelatedOnlyFieldListFilter),
        "sync_state",
        "is_active",
        RetryingFilter,
    ]
    search_fields = ["name", "tenant__name", "=odoo_pos_config_id"]
    search_help_text = "Search by register or tenant name, or an exact Odoo id."
    list_select_related = ["tenant"]
    list_per_page = 50
    csv_columns = [
        ("id", lambda r: r.pk),
        ("tenant", lambda r: r.tenant.name),
        ("name", lambda r: r.name),
        ("active", lambda r: "yes" if r.is_active else "no"),
        ("sequence prefix", lambda r: r.sequence_prefix),
        ("Odoo id", lambda r: r.odoo_pos_config_id),
        ("sync state", lambda r: SyncState(r.sync_state).label),
        ("retries", lambda r: r.sync_retries),
        ("next attempt", lambda r: csv_time(r.next_attempt_at)),
        ("last synced", lambda r: csv_time(r.last_synced_at)),
        ("last error", lambda r: r.last_sync_error),
    ]
    actions = ["rename_action", "deactivate_selected", "reactivate_selected", "retry_sync_now"]
    save_as = False
    sync_readonly = [
        "sync_badge",
        "odoo_pos_config_id",
        "sync_retries",
        "next_attempt_detail",
        "last_sync_error_full",
        "last_synced_at",
        "external_id",
        "history",
    ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "tenant_banners": tenant_banners(request.user)}
        return super().changelist_view(request, extra_context)

    def scoped_queryset(self, user):
        return registers_for(user)

    def get_ordering(self, request):
        # An expression, not an annotation: Django also orders every other admin's
        # register dropdowns and filters by this (e.g. a sync attempt's page), on
        # querysets that never went through scoped_queryset.
        return [STATE_RANK.asc(), "tenant__name", "name", "pk"]

    # --- list columns ---------------------------------------------------------------

    @admin.display(description="Active", boolean=True, ordering="is_active")
    def active(self, obj):
        return obj.is_active

    @admin.display(description="Prefix", ordering="sequence_prefix")
    def prefix(self, obj):
        return obj.sequence_prefix

    @admin.display(description="Retries", ordering="sync_retries")
    def retries(self, obj):
        return obj.sync_retries

    @admin.display(description="Odoo id", ordering="odoo_pos_config_id")
    def odoo_id(self, obj):
        return obj.odoo_pos_config_id

    @admin.display(description="Sync state", ordering=STATE_RANK)
    def sync_badge(self, obj):
        # Marked with the register and whether it is in flight: live.js refreshes such rows.
        return format_html(
            '<span data-regsync-register="{}" data-regsync-pending="{}">{}</span>',
            obj.pk,
            "1" if obj.sync_state in PENDING_STATES else "0",
            register_badge_html(obj),
        )

    @admin.display(description="Next attempt", ordering="next_attempt_at")
    def next_attempt(self, obj):
        if obj.sync_state not in (SyncState.PENDING_CREATE, SyncState.PENDING_UPDATE):
            return ""
        when = when_next_tried(obj.tenant, obj.next_attempt_at)
        return format_html(
            '<span title="{}">{}</span>',
            when.isoformat() if when else "",
            next_try(obj.tenant, when),
        )

    @admin.display(description="Last error")
    def last_error(self, obj):
        if not obj.last_sync_error:
            return ""
        return format_html(
            '<span title="{}">{}</span>', obj.last_sync_error, trim_error(obj.last_sync_error)
        )

    # --- change page ------------------------------------------------------------------

    @admin.display(description="Next attempt")
    def next_attempt_detail(self, obj):
        if obj.next_attempt_at is None:
            return "-"
        when = when_next_tried(obj.tenant, obj.next_attempt_at)
        return f"{next_try(obj.tenant, when)} ({when:%Y-%m-%d %H:%M:%S %Z})"

    @admin.display(description="Last sync error")
    def last_sync_error_full(self, obj):
        if not obj.last_sync_error:
            return "-"
        kind = (
            ErrorKind(obj.last_sync_error_kind).label
            if obj.last_sync_error_kind in ErrorKind.values
            else ""
        )
        return format_html(
            '{}<pre style="white-space:pre-wrap;margin:0">{}</pre>',
            format_html("<strong>{}</strong><br>", kind) if kind else "",
            obj.last_sync_error,
        )

    @admin.display(description="Odoo external id")
    def external_id(self, obj):
        return ".".join(obj.odoo_external_id) if obj.pk else "-"

    @admin.display(description="Recent history")
    def history(self, obj):
        events = list(obj.events.all()[:15]) if obj.pk else []
        if not events:
            return "-"
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td title="{}">{}</td><td>{}</td></tr>',
            (
                (
                    local_time(e.created_at),
                    e.actor or "-",
                    f"{e.action}: {e.from_state} -> {e.to_state or e.from_state}",
                    event_words(e),
                    e.detail[:300],
                )
                for e in events
            ),
        )
        return format_html(
            "<table><thead><tr><th>When</th><th>Who</th><th>What happened</th>"
            "<th>Detail</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            rows,
        )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["tenant", "name", "sequence_prefix"]})]
        return [
            (None, {"fields": ["tenant", "name", "is_active", "sequence_prefix", "revision"]}),
            ("Odoo sync", {"fields": self.sync_readonly}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["tenant", *self.sync_readonly]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = RegisterChangeForm if obj is not None else RegisterAddForm
        kwargs["form"] = form.acting_as(request.user.get_username())
        return super().get_form(request, obj, change=change, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant":
            kwargs["queryset"] = access.tenants_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        tenants = list(access.tenants_for(request.user)[:2])
        if len(tenants) == 1:
            initial.setdefault("tenant", tenants[0].pk)
        return initial

    def save_model(self, request, obj, form, change):
        # The form saved through registers.services while it was validated.
        pass

    def save_related(self, request, form, formsets, change):
        pass

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or access.can_access_tenant(request.user, obj.tenant_id)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and access.tenants_for(request.user).exists()

    # --- actions -----------------------------------------------------------------------

    @admin.action(description="Rename…", permissions=["change"])
    def rename_action(self, request, queryset):
        rows = list(queryset[:2])
        if len(rows) != 1:
            self.message_user(request, "Select exactly one register to rename.", messages.WARNING)
            return None
        register = rows[0]
        form = RenameForm(
            request.POST if "confirm" in request.POST else None,
            register=register,
            actor=request.user.get_username(),
        )
        if form.is_bound and form.is_valid():
            old = register.name
            row = form.save()
            if row is not None:
                effect = write_effect(row) if row.name != old else "nothing changed"
                self.message_user(request, f"Renamed {old!r} to {row.name!r}: {effect}.")
                return None
            register = form.register  # as it is now, if a colleague's edit refused this one
        return render_confirmation(
            self,
            request,
            queryset,
            action="rename_action",
            title=f"Rename {register.name}",
            question=f"Rename the register {register.name!r} of {register.tenant}.",
            submit="Rename",
            rows=[(register, register.tenant, write_effect(register))],
            form=form,
        )

    def _set_active(self, request, queryset, *, active: bool):
        verb, action = (
            ("reactivate", "reactivate_selected")
            if active
            else (
                "deactivate",
                "deactivate_selected",
            )
        )
        rows = list(queryset.select_related("tenant"))
        if "confirm" not in request.POST:
            already = "already active" if active else "already inactive"
            return render_confirmation(
                self,
                request,
                queryset,
                action=action,
                title=f"{verb.capitalize()} registers",
                question=f"{verb.capitalize()} {plural(len(rows))}?",
                submit=f"Yes, {verb}",
                rows=[
                    (
                        row,
                        row.tenant,
                        "left alone: " + already if row.is_active == active else write_effect(row),
                    )
                    for row in rows
                ],
            )
        done, left = Counter(), Counter()
        for row in rows:
            if row.is_active == active:
                left["already active" if active else "already inactive"] += 1
                continue
            try:
                saved = services.set_register_active(
                    row, active=active, actor=request.user.get_username()
                )
            except ValidationError as exc:
                left[" ".join(exc.messages)] += 1
                continue
            done[write_effect(saved)] += 1
        level = messages.SUCCESS if done else messages.WARNING
        self.message_user(
            request, f"{verb.capitalize()}d: " + summarise(done, left, verb=verb), level
        )
        return None

    @admin.action(description="Deactivate selected registers", permissions=["change"])
    def deactivate_selected(self, request, queryset):
        return self._set_active(request, queryset, active=False)

    @admin.action(description="Reactivate selected registers", permissions=["change"])
    def reactivate_selected(self, request, queryset):
        return self._set_active(request, queryset, active=True)

    @admin.action(description="Retry sync now", permissions=["change"])
    def retry_sync_now(self, request, queryset):
        rows = list(queryset.select_related("tenant"))
        if "confirm" not in request.POST:
            operator = access.may_override_odoo(request.user)
            would_retry = [
                row for row in rows if services.plan_retry(row, operator=operator) in RETRY_WORDS
            ]
            question = (
                f"Retry {plural(len(would_retry))} now, with fresh attempts? Dead letters "
                "and registers waiting to retry are queued; the others are left alone."
                if would_retry
                else "Nothing to retry: none of these registers is failed or waiting to retry."
            )
            return render_confirmation(
                self,
                request,
                queryset,
                action="retry_sync_now",
                title="Retry sync now",
                question=question,
                # Not offered when it would do nothing.
                submit="Yes, retry now" if would_retry else "",
                rows=[(row, row.tenant, retry_preview(request.user, row)) for row in rows],
            )
        done, left = retry_registers(request.user, rows)
        level = messages.SUCCESS if done else messages.WARNING
        self.message_user(request, "Retry sync: " + summarise(done, left, verb="retry"), level)
        return None

    # --- one register's "Retry sync now" (change page and the sync overview) ----------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/retry-sync/",
                self.admin_site.admin_view(self.retry_view),
                name="registers_posconfig_retry",
            ),
            path(
                "live/",
                self.admin_site.admin_view(self.live_view),
                name="registers_posconfig_live",
            ),
            path(
                "<path:object_id>/odoo-choice/",
                self.admin_site.admin_view(self.odoo_choice_view),
                name="registers_posconfig_odoo_choice",
            ),
            *super().get_urls(),
        ]

    # What the list and the register's page show of a register's sync, refreshed while it is
    # in flight (registers/static/registers/live.js): list columns, and the page's fields.
    LIVE_CELLS = {
        "list": ["sync_badge", "odoo_id", "retries", "next_attempt", "last_error"],
        "page": sync_readonly,
    }
    LIVE_MAX_IDS = 200

    def live_view(self, request):
        """JSON: the sync cells of the given registers the user may see (`?ids=1,2&view=list`).

        Never cached (admin_view); a register outside the user's tenants is simply absent.
        """
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        cells = self.LIVE_CELLS.get(request.GET.get("view", "list"), self.LIVE_CELLS["list"])
        ids = [int(i) for i in request.GET.get("ids", "").split(",") if i.isdigit()]
        rows = self.get_queryset(request).filter(pk__in=ids[: self.LIVE_MAX_IDS])
        return JsonResponse(
            {
                "registers": {
                    str(row.pk): {
                        "pending": row.sync_state in PENDING_STATES,
                        "cells": {name: str(self._live_cell(row, name)) for name in cells},
                    }
                    for row in rows.select_related("tenant")
                }
            }
        )

    def _live_cell(self, row, name):
        method = getattr(self, name, None)
        if method is not None:
            return method(row)
        field = PosConfig._meta.get_field(name)
        return display_for_field(getattr(row, name), field, self.get_empty_value_display())

    def odoo_choice_view(self, request, object_id):
        """An operator settles an ambiguous create: link to a candidate, or create a new one.

        A page of its own (GET: what the choice will write to Odoo; POST with
        `confirm`: do it), never a form inside the change form: browsers do not
        nest forms.
        """
        register = self.get_object(request, object_id)
        if not (
            access.may_override_odoo(request.user) and self.has_change_permission(request, register)
        ):
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:registers_posconfig_change", args=[register.pk]))
        data = request.POST if request.method == "POST" else request.GET
        choice = data.get("odoo_id", "")
        candidates = {str(c["id"]): c for c in register.odoo_link_candidates}
        if choice != "new" and choice not in candidates:
            self.message_user(
                request, "Pick one of the Odoo configs, or a new one.", messages.ERROR
            )
            return back
        if request.method != "POST" or "confirm" not in request.POST:
            return self._odoo_choice_confirmation(request, register, candidates, choice)
        who = request.user.get_username()
        connection = _int_or_none(data.get("connection", ""))
        try:
            if choice == "new":
                services.force_create_in_odoo(
                    register, actor=who, expected_connection_revision=connection
                )
                text = f"{register.name!r} will be created as a new config in Odoo."
            else:
                services.link_register_to_odoo(
                    register,
                    odoo_pos_config_id=int(choice),
                    actor=who,
                    expected_connection_revision=connection,
                )
                text = f"{register.name!r} is linked to pos.config {choice}; its values go there."
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(request, text, messages.SUCCESS)
        return back

    def _odoo_choice_confirmation(self, request, register, candidates: dict, choice: str):
        """What linking to `choice` (or creating anew) will write to the tenant's Odoo."""
        others = ", ".join(
            f"{key} {c['name']!r}{'' if c['active'] else ' (archived)'}"
            for key, c in candidates.items()
            if key != choice
        )
        state = "active" if register.is_active else "archived"
        if choice == "new":
            title = f"Create a new config in Odoo for {register.name}"
            effect = (
                f"The next sync creates a new Point of Sale config {register.name!r} ({state}) "
                "in Odoo, with regsync's external id."
            )
            submit = "Yes, create a new one"
        else:
            picked = candidates[choice]
            title = f"Link {register.name} to pos.config {choice}"
            odoo_state = "active" if picked["active"] else "archived"
            effect = (
                f"The next sync writes to pos.config {choice} in Odoo: the name "
                f"{register.name!r} (Odoo has {picked['name']!r}), {state} (Odoo has it "
                f"{odoo_state}), and regsync's external id "
                f"{'.'.join(register.odoo_external_id)}."
            )
            submit = "Yes, link it"
        return render_confirmation(
            self,
            request,
            None,
            action="",
            title=title,
            question=f"Odoo has several Point of Sale configs named like the register "
            f"{register.name!r}." + (f" Left as they are in Odoo: {others}." if others else ""),
            submit=submit,
            rows=[(register, register.tenant, effect)],
            hidden={
                "odoo_id": choice,
                # The connection the candidates were found on: a choice made on a page
                # opened before the tenant moved to another Odoo is refused.
                "connection": request.POST.get("connection") or request.GET.get("connection", ""),
            },
        )

    def retry_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        register = self.get_object(request, object_id)  # a 404 for any id not theirs
        if not self.has_change_permission(request, register):
            raise PermissionDenied
        done, left = retry_registers(request.user, [register])
        level = messages.SUCCESS if done else messages.WARNING
        self.message_user(
            request,
            f"Retry sync of {register.name!r}: " + summarise(done, left, verb="retry"),
            level,
        )
        return redirect_back(
            request, reverse("admin:registers_posconfig_change", args=[register.pk])
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["retry_url"] = (
            reverse("admin:registers_posconfig_retry", args=[obj.pk]) if obj is not None else ""
        )
        ambiguous = obj is not None and obj.last_sync_error_kind == ErrorKind.AMBIGUOUS
        if (
            ambiguous
            and obj.sync_state == SyncState.SYNC_ERROR
            and access.may_override_odoo(request.user)
        ):
            context["odoo_choice_url"] = reverse(
                "admin:registers_posconfig_odoo_choice", args=[obj.pk]
            )
            context["odoo_candidates"] = obj.odoo_link_candidates
            context["odoo_connection_revision"] = obj.tenant.odoo_connection_revision
        return super().render_change_form(request, context, add, change, form_url, obj)
