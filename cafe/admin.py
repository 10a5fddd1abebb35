"""The memberships admin (operators give staff users access to tenants), staff users, groups."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from cafe import services
from cafe.access import is_operator
from cafe.forms import GroupForm, MembershipForm, StaffUserChangeForm, StaffUserCreationForm
from cafe.models import Membership


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Operators give staff users access to tenants (and the Tenant staff group's rights)."""

    form = MembershipForm
    list_display = ["user", "tenant", "created_at"]
    list_filter = [("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email", "tenant__name"]
    list_select_related = ["user", "tenant"]

    def has_module_permission(self, request):
        return is_operator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_add_permission(self, request):
        return is_operator(request.user)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return is_operator(request.user)

    def save_model(self, request, obj, form, change):
        pass

    def save_related(self, request, form, formsets, change):
        pass

    def delete_model(self, request, obj):
        services.revoke_tenant_access(obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            services.revoke_tenant_access(membership)


# --- staff users and groups: Django's admin, with regsync's name rules ---------------------


class StaffUserAdmin(UserAdmin):
    form = StaffUserChangeForm
    add_form = StaffUserCreationForm


class StaffGroupAdmin(GroupAdmin):
    form = GroupForm


for model, model_admin in [(get_user_model(), StaffUserAdmin), (Group, StaffGroupAdmin)]:
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
