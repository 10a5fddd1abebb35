"""Encrypted model fields: secrets at rest are Fernet tokens, never plain text."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import TextField, Value
from django.db.models.functions import Cast


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


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) stored with EncryptedTextField, in every installed app."""
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def reencrypt_all(*, dry_run: bool = False) -> tuple[int, int]:
    """Re-encrypt every stored secret with the newest key (the first of FIELD_ENCRYPTION_KEY).

    Returns (re-encrypted, already with the newest key); with `dry_run`, the
    first is how many would be. All or nothing: a secret that no configured
    key decrypts raises SecretDecryptionError naming its row, and nothing is
    written. Tokens are read and written as stored (never decrypted into a
    model), so no save signal or revision runs.
    """
    keys = fernet()
    newest = Fernet(settings.FIELD_ENCRYPTION_KEY[0].encode())
    rotated = current = 0
    with transaction.atomic():
        for model, name in encrypted_fields():
            rows = (
                model._default_manager.exclude(**{name: ""})
                .select_for_update()
                .annotate(token=Cast(name, output_field=TextField()))
                .values_list("pk", "token")
                .order_by("pk")
            )
            for pk, token in rows:
                try:
                    newest.decrypt(token.encode())
                    current += 1
                    continue
                except InvalidToken:
                    pass
                try:
                    fresh = keys.rotate(token.encode()).decode()
                except InvalidToken:
                    raise SecretDecryptionError(
                        f"{model._meta.label}.{name} of row {pk} cannot be decrypted with any "
                        "FIELD_ENCRYPTION_KEY key; nothing was re-encrypted."
                    ) from None
                rotated += 1
                if not dry_run:
                    model._default_manager.filter(pk=pk).update(
                        **{name: Value(fresh, output_field=TextField())}
                    )
    return rotated, current
