"""Admin forms for memberships: they validate and save through cafe.services only."""

from cafe import services
from cafe.admin_base import ServiceForm
from cafe.models import Membership


class MembershipForm(ServiceForm):
    class Meta:
        model = Membership
        fields = ["user", "tenant"]

    def apply(self) -> Membership:
        return services.grant_tenant_access(
            user=self.cleaned_data["user"], tenant=self.cleaned_data["tenant"]
        )
