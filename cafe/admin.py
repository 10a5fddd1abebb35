"""The memberships admin (operators give staff users access to tenants), staff users, groups."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from cafe import services
from cafe.access import is_operator
from cafe.admin_base import BoundedSearchAdmin, SearchableChoicesAdmin
from cafe.forms import GroupForm, MembershipForm, StaffUserChangeForm, StaffUserCreationForm
from cafe.models import Membership


@admin.register(Membership)
class MembershipAdmin(SearchableChoicesAdmin):
    """Operators give staff users access to tenants (and the Tenant staff group's rights)."""

    form = MembershipForm
    list_display = ["user", "tenant", "created_at"]
    list_filter = [("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]  # searchable, not a list of every user
    list_select_related = ["user", "tenant"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "tenant", "new_username", "new_email", "new_password"]
        return ["user", "tenant"]  # a membership is never changed, only removed

    @method_decorator(sensitive_post_parameters("new_password"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Error reports never show the new user's password.
        return super().changeform_view(request, object_id, form_url, extra_context)

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


class StaffUserAdmin(BoundedSearchAdmin, UserAdmin):
    form = StaffUserChangeForm
    add_form = StaffUserCreationForm


class StaffGroupAdmin(BoundedSearchAdmin, GroupAdmin):
    form = GroupForm


for model, model_admin in [(get_user_model(), StaffUserAdmin), (Group, StaffGroupAdmin)]:
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
