"""The drift audit's findings in the admin: what changed in Odoo, and what an operator decides.

Every decision shows a confirmation page first, listing what it will do to
each finding (what it writes to the tenant's Odoo, or that it sends nothing);
the rules are odoo_sync.audit's (`plan`, and one function per decision).
"""

from collections import Counter

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from cafe import access
from cafe.admin_base import TenantScopedAdmin, local_time, render_confirmation
from odoo_sync import audit
from odoo_sync.models import NEEDS_ATTENTION, AuditFinding
from registers import services as register_services

Decision = AuditFinding.Decision


def findings_for(user):
    if access.is_operator(user):
        return AuditFinding.objects.all()
    return AuditFinding.objects.filter(tenant__in=access.tenants_for(user).values("pk"))


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [
            ("needs", "Needs a decision"),
            ("open", "Not resolved"),
            ("local_wins", "Local wins, queued"),
            ("ignored", "Ignored"),
            ("resolved", "Resolved"),
        ]

    def queryset(self, request, queryset):
        open_ = queryset.filter(resolved_at__isnull=True)
        return {
            "needs": queryset.filter(NEEDS_ATTENTION),
            "open": open_,
            "local_wins": open_.filter(decision=Decision.LOCAL_WINS),
            "ignored": open_.filter(decision=Decision.IGNORED),
            "resolved": queryset.filter(resolved_at__isnull=False),
        }.get(self.value(), queryset)


# What each decision's confirmation page asks, and what is said once it is done ("{n}": how many).
DECISION_WORDS = {
    Decision.LOCAL_WINS: {
        "title": "Local wins",
        "question": "Write these registers to their tenant's Odoo again, over what was changed "
        "there? The next sync sends what each line says.",
        "submit": "Yes, write to Odoo",
        "done": "Local wins: {n} finding(s) queued to be written to Odoo.",
    },
    Decision.ODOO_VALUE: {
        "title": "Accept Odoo's value",
        "question": "Let these registers take the name or active flag Odoo has now? Nothing is "
        "sent to Odoo.",
        "submit": "Yes, take Odoo's value",
        "done": "Odoo's value accepted for {n} register(s); nothing was sent to Odoo.",
    },
    Decision.ADOPTED: {
        "title": "Adopt configs made in Odoo",
        "question": "Make these Point of Sale configs registers of their tenant, linked to them, "
        "with their name and active flag? Each needs a sequence prefix.",
        "submit": "Yes, adopt",
        "done": "Adopted {n} config(s) as registers; the next sync attaches regsync's external "
        "id to each.",
    },
    Decision.IGNORED: {
        "title": "Ignore configs made in Odoo",
        "question": "Leave these configs as they are in Odoo and stop counting them as drift "
        "(the audit's exit code, the overview, alerts)? You can stop ignoring them later.",
        "submit": "Yes, ignore",
        "done": "Ignored {n} config(s): they no longer count as drift.",
    },
}


class AdoptForm(forms.Form):
    """A sequence prefix for each config to adopt (it becomes a register, which needs one)."""

    def __init__(self, *args, findings, **kwargs):
        super().__init__(*args, **kwargs)
        for finding in findings:
            self.fields[f"prefix_{finding.pk}"] = forms.CharField(
                label=f"Sequence prefix of {finding.odoo_name!r} (pos.config {finding.odoo_id})",
                initial=audit.suggested_prefix(finding.odoo_name or ""),
                help_text="1 to 10 uppercase letters or digits; it stays here, Odoo never sees it.",
            )

    def clean(self):
        for name, value in list(self.cleaned_data.items()):
            try:
                self.cleaned_data[name] = register_services.clean_sequence_prefix(value)
            except ValidationError as exc:
                self.add_error(name, exc.messages)
        return self.cleaned_data

    def prefixes(self) -> dict[int, str]:
        return {int(name.split("_")[1]): value for name, value in self.cleaned_data.items()}


@admin.register(AuditFinding)
class AuditFindingAdmin(TenantScopedAdmin):
    list_display = [
        "last_seen",
        "tenant",
        "kind",
        "register_link",
        "odoo_id",
        "here",
        "in_odoo",
        "first_seen",
        "status",
    ]
    list_filter = [StatusFilter, "kind", ("tenant", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["tenant", "run", "register"]
    search_fields = ["local_name", "odoo_name", "=odoo_id"]
    actions = ["fix_local_wins", "accept_odoo_value", "adopt", "ignore", "stop_ignoring"]
    fields = [
        "last_seen",
        "tenant",
        "kind",
        "register_link",
        "odoo_id",
        "here",
        "in_odoo",
        "first_seen",
        "status",
    ]
    readonly_fields = fields

    def scoped_queryset(self, user):
        return findings_for(user)

    def get_ordering(self, request):
        return ["-run__started_at", "tenant__name", "kind", "odoo_id"]

    # Findings are seen by whoever sees registers. Fixing one overwrites what someone set in
    # the tenant's Odoo, which only an operator may decide (access.may_override_odoo); adopting
    # a config (it becomes a register, like picking among namesakes) and ignoring one (it stops
    # counting for alerts) are the operators' too.
    def has_module_permission(self, request):
        return request.user.has_perm("registers.view_posconfig")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("registers.view_posconfig")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_fix_permission(self, request):
        return access.may_override_odoo(request.user)

    def has_settle_permission(self, request):
        # Accepting Odoo's value changes the register here and sends nothing to Odoo:
        # whoever may edit the tenant's registers may.
        return request.user.has_perm("registers.change_posconfig")

    def has_operator_permission(self, request):
        return access.is_operator(request.user)

    # --- columns ---------------------------------------------------------------------

    @admin.display(description="Last seen", ordering="run__started_at")
    def last_seen(self, obj):
        return local_time(obj.run.started_at)

    @admin.display(description="First seen", ordering="first_seen_at")
    def first_seen(self, obj):
        return local_time(obj.first_seen_at)

    @admin.display(description="Register")
    def register_link(self, obj):
        if obj.register_id is None:
            return "-"
        url = reverse("admin:registers_posconfig_change", args=[obj.register_id])
        return format_html('<a href="{}">{}</a>', url, obj.local_name or obj.register.name)

    @admin.display(description="Here")
    def here(self, obj):
        return _side(obj.local_name, obj.local_active)

    @admin.display(description="In Odoo")
    def in_odoo(self, obj):
        return _side(obj.odoo_name, obj.odoo_active)

    @admin.display(description="Status")
    def status(self, obj):
        words = audit.state_words(obj)
        if obj.decided_at:
            words += f", {local_time(obj.decided_at)}"
        if obj.resolved_at:
            words += f"; resolved {local_time(obj.resolved_at)}"
        return words

    # --- decisions: each confirms first, listing what it will do ------------------------

    def _decide(self, request, queryset, decision: str, act):
        """Confirm (the page lists what `decision` will do to each finding), then
        `act(findings, form)` -> (how many done, {why left alone: how many}), and report it."""
        words = DECISION_WORDS[decision]
        findings = list(queryset.select_related("tenant", "register", "run"))
        previews = [(finding, audit.plan(finding, decision)) for finding in findings]
        applies = [finding for finding, preview in previews if preview.applies]
        form = None
        if decision == Decision.ADOPTED:
            form = AdoptForm(request.POST if "confirm" in request.POST else None, findings=applies)
        if "confirm" not in request.POST or (form is not None and not form.is_valid()):
            return render_confirmation(
                self,
                request,
                queryset,
                action=request.POST.get("action", ""),
                title=words["title"],
                question=words["question"] if applies else "Nothing to do here.",
                submit=words["submit"] if applies else "",
                rows=[(finding, finding.tenant, preview.text) for finding, preview in previews],
                form=form,
            )
        count, left = act(findings, form)
        text = words["done"].format(n=count) if count else "Nothing done."
        if left:
            text += " Left alone: " + "; ".join(f"{n} ({why})" for why, n in left.items()) + "."
        self.message_user(request, text, messages.SUCCESS if count else messages.WARNING)
        return None

    def _who(self, request) -> str:
        return request.user.get_username()

    @admin.action(description="Local wins: write the registers to Odoo again…", permissions=["fix"])
    def fix_local_wins(self, request, queryset):
        def act(findings, form):
            fixed = audit.fix_findings(findings, actor=self._who(request))
            left = Counter(
                why for f in findings if (why := audit.left_alone(f, Decision.LOCAL_WINS))
            )
            if moved_on := len(findings) - fixed - left.total():
                left["changed since the audit: run it again"] += moved_on
            return fixed, left

        return self._decide(request, queryset, Decision.LOCAL_WINS, act)

    @admin.action(description="Accept Odoo's value…", permissions=["settle"])
    def accept_odoo_value(self, request, queryset):
        def act(findings, form):
            return audit.accept_odoo_values(findings, actor=self._who(request))

        return self._decide(request, queryset, Decision.ODOO_VALUE, act)

    @admin.action(description="Adopt as registers…", permissions=["operator"])
    def adopt(self, request, queryset):
        def act(findings, form):
            return audit.adopt_findings(
                findings, prefixes=form.prefixes(), actor=self._who(request)
            )

        return self._decide(request, queryset, Decision.ADOPTED, act)

    @admin.action(description="Ignore…", permissions=["operator"])
    def ignore(self, request, queryset):
        def act(findings, form):
            return audit.ignore_findings(findings, actor=self._who(request))

        return self._decide(request, queryset, Decision.IGNORED, act)

    @admin.action(description="Stop ignoring", permissions=["operator"])
    def stop_ignoring(self, request, queryset):
        undone = audit.stop_ignoring(list(queryset), actor=self._who(request))
        text = f"{undone} config(s) count as drift again." if undone else "Nothing was ignored."
        self.message_user(request, text, messages.SUCCESS if undone else messages.WARNING)


def _side(name, active) -> str:
    if name is None:
        return "-"
    return f"{name} ({'active' if active else 'archived'})"
