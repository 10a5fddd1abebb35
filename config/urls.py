"""URL routes: the product's UI is the Django admin."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    # The site's root is the admin's home (the sync overview for whoever may see it).
    path("", RedirectView.as_view(pattern_name="admin:index"), name="root"),
    path("admin/", admin.site.urls),
    # Health checks and Prometheus metrics (named as a string: config imports no app).
    path("", include("odoo_sync.urls")),
]

handler400 = "config.views.bad_request"
