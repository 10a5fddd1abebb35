"""Test clients for the admin: one logged in as a given user."""

from django.test import Client


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
