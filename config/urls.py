"""URL routes: the product's UI is the Django admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # Health checks and Prometheus metrics (named as a string: config imports no app).
    path("", include("odoo_sync.urls")),
]

handler400 = "config.views.bad_request"
