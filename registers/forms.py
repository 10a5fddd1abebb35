"""Admin forms for registers: they validate and save through registers.services only."""

from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError

from cafe.admin_helpers import add_service_errors
from cafe.forms import ServiceForm
from registers import services
from registers.models import NAME_MAX_LENGTH, PosConfig


class ActingForm(ServiceForm):
    """A ServiceForm that knows who saves it, so the register's history can say so.

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


class RegisterAddForm(ActingForm):
    class Meta:
        model = PosConfig
        fields = ["tenant", "name", "sequence_prefix"]

    def apply(self) -> PosConfig:
        data = self.cleaned_data
        return services.add_register(
            data["tenant"], name=data["name"], prefix=data["sequence_prefix"], actor=self.who
        )


class RegisterChangeForm(ActingForm):
    class Meta:
        model = PosConfig
        fields = ["name", "is_active", "sequence_prefix"]

    def apply(self) -> PosConfig:
        data = self.cleaned_data
        row = self.instance
        # Deactivate before a rename and reactivate after it, so that swapping
        # names with an archived register does not trip the active-name rule.
        if not data["is_active"]:
            row = services.set_register_active(row, active=False, actor=self.who)
        row = services.rename_register(row, name=data["name"], actor=self.who)
        row = services.set_register_prefix(row, prefix=data["sequence_prefix"], actor=self.who)
        if data["is_active"]:
            row = services.set_register_active(row, active=True, actor=self.who)
        return row


class RenameForm(forms.Form):
    """The Rename action's intermediate page."""

    name = forms.CharField(label="New name", max_length=NAME_MAX_LENGTH)

    def __init__(self, *args, register: PosConfig, actor: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.register = register
        self.actor = actor
        self.fields["name"].initial = register.name

    def save(self) -> PosConfig | None:
        """Rename through the service; None (with form errors) if it refused."""
        try:
            return services.rename_register(
                self.register, name=self.cleaned_data["name"], actor=self.actor
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
            return None
