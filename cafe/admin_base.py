"""Building blocks of every regsync ModelAdmin: tenant scoping, forms that save through services,
confirmation pages, times in words."""

from datetime import datetime, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin import widgets as admin_widgets
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, SEARCH_VAR
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ImproperlyConfigured,
    PermissionDenied,
    ValidationError,
)
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from cafe.csv_export import csv_response


def add_service_errors(form, exc: ValidationError, field_map: dict | None = None) -> None:
    """Show a service's ValidationError on the form: on its field when the form has it."""
    field_map = field_map or {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        field = field_map.get(field, field)
        if field not in form.fields or field in getattr(form, "read_only_fields", ()):
            field = NON_FIELD_ERRORS
        form.add_error(None if field == NON_FIELD_ERRORS else field, errors)


class ServiceForm(forms.ModelForm):
    """A ModelForm whose save is a service call, made while the form is validated.

    The admin decides between "saved" and "show the form again" on
    `is_valid()` alone, so the services run there, in one savepoint: a
    ValidationError rolls back whatever the services already wrote and comes
    back as form errors. ModelForm's own model validation is not used; the
    services are the rules. Afterwards `self.instance` is the saved row.
    """

    service_field_map: dict[str, str] = {}

    def apply(self):
        raise NotImplementedError

    def _post_clean(self):
        if self.errors:
            return
        try:
            with transaction.atomic():
                self.instance = self.apply()
        except ValidationError as exc:
            add_service_errors(self, exc, self.service_field_map)


class ActingForm(ServiceForm):
    """A ServiceForm that knows who saves it, so the history it writes can say so.

    A register's events and a tenant's ended incidents name the login.
    The admin builds one per request with `acting_as(login)`: Django
    instantiates the form class itself, so the login travels on the class.
    """

    actor: str = ""

    @classmethod
    def acting_as(cls, actor: str) -> type["ActingForm"]:
        return type(cls.__name__, (cls,), {"actor": actor, "__module__": cls.__module__})

    @property
    def who(self) -> str:
        # An edit recorded without its author is the gap this exists to close.
        if not self.actor:
            raise ImproperlyConfigured(f"{type(self).__name__} used without acting_as(login)")
        return self.actor


class AutocompleteSelect(admin_widgets.AutocompleteSelect):
    """Django's searchable select, without its 500 on a posted value that is not an id.

    Django filters the choices by the posted value to show it again, and a
    value like "abc" raises there; such a value is already a form error.
    """

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if str(v).isdigit()], attr)


MAX_SEARCH_LENGTH = 200


class BoundedSearchAdmin(admin.ModelAdmin):
    """A changelist search longer than MAX_SEARCH_LENGTH gets a message, never a database error.

    Every word of a search is a LIKE on each search field: SQLite refuses a
    pattern over 50,000 bytes ("LIKE or GLOB pattern too complex") and a tree
    of over 1,000 terms. No register, tenant or login is that long, so such a
    term finds nothing anyway; the list says why and shows no rows.
    """

    def get_search_results(self, request, queryset, search_term):
        if len(search_term) <= MAX_SEARCH_LENGTH:
            return super().get_search_results(request, queryset, search_term)
        if request.GET.get(SEARCH_VAR) == search_term:  # not an autocomplete
            messages.warning(
                request,
                f"Searches are at most {MAX_SEARCH_LENGTH} characters and this one has "
                f"{len(search_term):,}, so nothing was searched: shorten it and search again.",
            )
        return queryset.none(), False


class SearchableChoicesAdmin(BoundedSearchAdmin):
    """`autocomplete_fields` with the safe widget above."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request):
            kwargs.setdefault(
                "widget", AutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class TenantScopedAdmin(BoundedSearchAdmin):
    """Rows a user may not see do not exist for them: lists, change views and actions.

    `scoped_queryset(user)` comes from the `access` module of the model's app. An object outside it is
    a 404 by URL (not the admin's redirect), whether it exists or not.
    """

    def scoped_queryset(self, user):
        raise NotImplementedError

    def get_queryset(self, request):
        qs = self.scoped_queryset(request.user)
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with id {object_id!r} for you.")
        return obj

    def has_delete_permission(self, request, obj=None):
        # Nothing is deleted from the admin: there is no service for it.
        return False


class CsvExportAdmin(admin.ModelAdmin):
    """An "Export CSV" of the list as it is filtered, searched and ordered, scoped as the list is.

    `csv_columns` are (header, function of a row) pairs. The list's template
    links to `admin:<app>_<model>_export` with the list's query string.
    """

    csv_columns: list[tuple[str, object]] = []

    def get_urls(self):
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.csv_export_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_export",
            ),
            *super().get_urls(),
        ]

    def csv_export_view(self, request):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            listing = f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"
            return HttpResponseRedirect(f"{reverse(listing)}?{ERROR_FLAG}=1")
        rows = changelist.get_queryset(request).iterator(chunk_size=1000)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return csv_response(
            f"{self.opts.verbose_name_plural.replace(' ', '-')}-{stamp}.csv",
            [header for header, _ in self.csv_columns],
            ([value(row) for _, value in self.csv_columns] for row in rows),
        )


def render_confirmation(
    modeladmin,
    request,
    queryset,
    *,
    action: str,
    title: str,
    question: str,
    submit: str,
    rows: list[tuple] | None = None,
    form=None,
    hidden: dict | None = None,
):
    """The page an action shows before it acts: posts back with `confirm`.

    With an `action`, to the changelist with the selected rows; without one
    (a view of one object), to the page's own URL with the `hidden` fields.
    """
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "submit_label": submit,
        "action_name": action,
        "queryset": queryset,
        "rows": rows or [],
        "form": form,
        "hidden": hidden or {},
        "opts": modeladmin.opts,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/regsync/action_confirmation.html", context)


def humanize_until(when: datetime | None, *, now: datetime | None = None) -> str:
    """'in 4 min', 'in 2 h 5 min', 'due now'; '' when there is no time."""
    if when is None:
        return ""
    delta = when - (now or timezone.now())
    if delta <= timedelta(0):
        return "due now"
    return "in " + humanize_duration(delta)


def local_time(when: datetime | None) -> str:
    """The one date format of the admin: the operator's time zone, with the zone shown."""
    if when is None:
        return ""
    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M %Z")


def humanize_ago(when: datetime | None, *, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    delta = (now or timezone.now()) - when
    if delta < timedelta(seconds=1):
        return "just now"
    return humanize_duration(delta) + " ago"


def humanize_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 1)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def redirect_back(request, default: str) -> HttpResponseRedirect:
    """To the posted `next` page when it is one of this site's, else to `default`."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return HttpResponseRedirect(target)
