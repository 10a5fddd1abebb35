"""Admin forms for registers: they validate and save through registers.services only."""

from django import forms
from django.core.exceptions import ValidationError

from cafe.admin_helpers import add_service_errors
from cafe.forms import ServiceForm
from registers import services
from registers.models import NAME_MAX_LENGTH, PosConfig


class RegisterAddForm(ServiceForm):
    class Meta:
        model = PosConfig
        fields = ["tenant", "name", "sequence_prefix"]

    def apply(self) -> PosConfig:
        data = self.cleaned_data
        return services.add_register(
            data["tenant"], name=data["name"], prefix=data["sequence_prefix"]
        )


class RegisterChangeForm(ServiceForm):
    class Meta:
        model = PosConfig
        fields = ["name", "is_active", "sequence_prefix"]

    def apply(self) -> PosConfig:
        data = self.cleaned_data
        row = self.instance
        # Deactivate before a rename and reactivate after it, so that swapping
        # names with an archived register does not trip the active-name rule.
        if not data["is_active"]:
            row = services.set_register_active(row, active=False)
        row = services.rename_register(row, name=data["name"])
        row = services.set_register_prefix(row, prefix=data["sequence_prefix"])
        if data["is_active"]:
            row = services.set_register_active(row, active=True)
        return row


class RenameForm(forms.Form):
    """The Rename action's intermediate page."""

    name = forms.CharField(label="New name", max_length=NAME_MAX_LENGTH)

    def __init__(self, *args, register: PosConfig, **kwargs):
        super().__init__(*args, **kwargs)
        self.register = register
        self.fields["name"].initial = register.name

    def save(self) -> PosConfig | None:
        """Rename through the service; None (with form errors) if it refused."""
        try:
            return services.rename_register(self.register, name=self.cleaned_data["name"])
        except ValidationError as exc:
            add_service_errors(self, exc)
            return None
