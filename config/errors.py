"""Error reports that never carry an Odoo API key, whatever frame they were raised in."""

from django.views.debug import SafeExceptionReporterFilter

# Modules whose frames hold a tenant's key or the form data it came in with:
# their local variables are left out of every error report, DEBUG or not.
SECRET_BEARING_MODULES = (
    "odoo_client.client",
    "odoo_sync.connection",
    "odoo_sync.drain",
    "odoo_sync.forms",
    "odoo_sync.tenants",
    "odoo_sync.tenant_admin",
    "cafe.services",
    "cafe.fields",
    # Cleans the API key (clean_secret) like any other typed text.
    "cafe.text",
)


class RegsyncExceptionReporterFilter(SafeExceptionReporterFilter):
    def get_traceback_frame_variables(self, request, tb_frame):
        module = tb_frame.f_globals.get("__name__", "")
        if module.startswith(SECRET_BEARING_MODULES):
            return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
        return super().get_traceback_frame_variables(request, tb_frame)
