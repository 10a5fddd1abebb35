"""Admin forms for registers: they validate and save through registers.services only."""

from django import forms
from django.core.exceptions import ValidationError

from cafe.admin_base import ActingForm, add_service_errors
from registers import services
from registers.models import NAME_MAX_LENGTH, PosConfig

HELP_TEXTS = {
    "sequence_prefix": (
        "Starts this register's receipt numbers (e.g. BAR1). It stays here: Odoo is never sent it."
    ),
    "name": "Sent to Odoo as the Point of Sale's name (for a tenant that syncs).",
}


class RegisterAddForm(ActingForm):
    class Meta:
        model = PosConfig
        fields = ["tenant", "name", "sequence_prefix"]
        help_texts = HELP_TEXTS

    def apply(self) -> PosConfig:
        data = self.cleaned_data
        return services.add_register(
            data["tenant"], name=data["name"], prefix=data["sequence_prefix"], actor=self.who
        )


# The change form's fields and the edit_register arguments they become.
EDIT_ARGS = {"name": "name", "is_active": "active", "sequence_prefix": "prefix"}

NO_REVISION = (
    "This form does not say which version of the register it edits. Nothing was saved: "
    "reload the page, then make your change again."
)


class RevisionLocked(forms.Form):
    """A form that says which revision of the register it edits (DESIGN.md property 12).

    `revision` is the optimistic lock: `services.edit_register` refuses it when
    stale, saying what changed, by whom and when (`services.StaleEdit`).
    """

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def clean(self):
        cleaned = super().clean()
        # The hidden field's own error would not show: say it where it is seen.
        if self.has_error("revision"):
            raise ValidationError(NO_REVISION)
        return cleaned


class RegisterChangeForm(RevisionLocked, ActingForm):
    """Saves only what the user changed, and only if nobody edited the register since.

    A form opened before a colleague's edit is refused with what changed, by
    whom and when, and comes back showing the register as it is now, with its
    new revision, so the change can be made again on top of the colleague's.
    """

    class Meta:
        model = PosConfig
        fields = ["name", "is_active", "sequence_prefix", "revision"]
        help_texts = HELP_TEXTS

    stale = False

    def apply(self) -> PosConfig:
        data = self.cleaned_data
        changes = {
            arg: data[field] for field, arg in EDIT_ARGS.items() if field in self.changed_data
        }
        if not changes:
            return self.instance
        try:
            return services.edit_register(
                self.instance, **changes, expected_revision=data["revision"], actor=self.who
            )
        except services.StaleEdit:
            self.stale = True
            raise

    def _post_clean(self):
        super()._post_clean()
        if self.stale:
            self._show_current_values()

    def _show_current_values(self) -> None:
        """Re-bind to the register as it is now, so the page shows it, not the refused post."""
        current = PosConfig.objects.get(pk=self.instance.pk)
        data = self.data.copy()
        for field in ("name", "sequence_prefix", "revision"):
            data[self.add_prefix(field)] = str(getattr(current, field))
        if current.is_active:
            data[self.add_prefix("is_active")] = "on"
        else:
            data.pop(self.add_prefix("is_active"), None)
        self.data = data
        self.instance = current


class RenameForm(RevisionLocked):
    """The Rename action's intermediate page: a new name, for the revision the page showed.

    A stale page is refused as the change form is; it comes back with what the
    user typed, on top of the register's current revision, to be sent again
    knowingly.
    """

    name = forms.CharField(label="New name", max_length=NAME_MAX_LENGTH)

    def __init__(self, *args, register: PosConfig, actor: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.register = register
        self.actor = actor
        self.fields["name"].initial = register.name
        self.fields["revision"].initial = register.revision

    def save(self) -> PosConfig | None:
        """Rename through the service; None (with form errors) if it refused."""
        try:
            return services.rename_register(
                self.register,
                name=self.cleaned_data["name"],
                expected_revision=self.cleaned_data["revision"],
                actor=self.actor,
            )
        except services.StaleEdit as exc:
            add_service_errors(self, exc)
            self.register = PosConfig.objects.get(pk=self.register.pk)
            self.data = self.data.copy()
            self.data[self.add_prefix("revision")] = str(self.register.revision)
        except ValidationError as exc:
            add_service_errors(self, exc)
        return None
