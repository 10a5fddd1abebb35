"""Encrypted model fields: secrets at rest are Fernet tokens, never plain text."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be one or more comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes each)."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEY))


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


class EncryptedTextField(models.TextField):
    """Text stored encrypted with the FIELD_ENCRYPTION_KEY keys (first one encrypts).

    An empty value is stored as an empty string so "not set" stays queryable.
    """

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return ""
        return fernet().encrypt(value.encode()).decode()

    def from_db_value(self, value, expression, connection):
        if not value:
            return ""
        try:
            return fernet().decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise SecretDecryptionError(
                f"{self.model.__name__}.{self.name} cannot be decrypted: "
                "FIELD_ENCRYPTION_KEY does not contain the key it was written with."
            ) from exc
