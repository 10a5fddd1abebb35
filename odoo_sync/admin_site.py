"""regsync's admin site: the sync overview is its home, in the app list and sidebar, and "View site"."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, path, reverse


class RegsyncAdminSite(admin.AdminSite):
    site_header = "regsync"
    site_title = "regsync"
    index_title = "Registers and their Odoo sync"

    @property
    def site_url(self) -> str:
        # "View site" opens the overview: the admin is the product's only UI.
        try:
            return reverse("admin:odoo_sync_overview")
        except NoReverseMatch:  # before the sync app's URLs are loaded
            return "/admin/"

    def get_urls(self):
        # The overview's own address: under the sync attempts' URL, the sidebar would
        # mark both "Sync overview" and "Sync attempts" as the current page.
        return [
            path(
                "odoo_sync/overview/",
                self.admin_view(self.overview_view),
                name="odoo_sync_overview",
            ),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        """The admin's home is the sync overview (the app list stays in the sidebar)."""
        if request.user.has_perm("registers.view_posconfig"):
            return HttpResponseRedirect(reverse("admin:odoo_sync_overview"))
        return super().index(request, extra_context)

    def overview_view(self, request):
        from odoo_sync.models import SyncAttempt  # models load after the site is built

        return self._registry[SyncAttempt].overview_view(request)

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if not request.user.has_perm("registers.view_posconfig"):
            return apps
        overview = {
            "name": "Sync overview",
            "object_name": "SyncOverview",
            "admin_url": reverse("admin:odoo_sync_overview"),
            "add_url": None,
            "view_only": True,
            "perms": {"view": True, "add": False, "change": False, "delete": False},
        }
        for app in apps:
            if app["app_label"] == "odoo_sync":
                app["models"].insert(0, overview)
        return apps


class RegsyncAdminConfig(AdminConfig):
    """Django's admin on regsync's site (named in INSTALLED_APPS instead of django.contrib.admin)."""

    default_site = "odoo_sync.admin_site.RegsyncAdminSite"
