"""URL routes: the product's UI is the Django admin."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]

handler400 = "config.views.bad_request"
