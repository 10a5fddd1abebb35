"""`manage.py reencrypt_secrets [--check]`: every stored secret under the newest Fernet key.

Key rotation (docs/deploy.md): prepend a new key to FIELD_ENCRYPTION_KEY and
restart, run this, then drop the old key. `--check` writes nothing and exits 1
while any secret still needs the old key.
"""

from django.core.management.base import CommandError

from cafe.commands import RegsyncCommand
from cafe.fields import SecretDecryptionError, reencrypt_all


class Command(RegsyncCommand):
    help = "Re-encrypt every stored secret (Odoo API keys) with the first FIELD_ENCRYPTION_KEY key."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="write nothing; exit 1 if a secret is not yet under the newest key",
        )

    def handle(self, *args, check: bool = False, **options):
        try:
            rotated, current = reencrypt_all(dry_run=check)
        except SecretDecryptionError as exc:
            raise CommandError(str(exc)) from None
        if check:
            self.stdout.write(
                f"{rotated} secret(s) still need re-encrypting; {current} use the newest key."
            )
            if rotated:
                raise SystemExit(1)
            return
        self.stdout.write(
            f"Re-encrypted {rotated} secret(s) with the newest key; {current} already used it."
        )
