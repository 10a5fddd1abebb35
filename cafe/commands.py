"""The base of regsync's management commands: a user's mistake is one line and exit 2."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cafe import text

# Options every Django command has; Django itself reads them.
_DJANGO_OPTIONS = {"settings", "pythonpath"}
FLAG_MAX_LENGTH = 1000
USAGE_ERROR = 2


class RegsyncCommand(BaseCommand):
    """Usage errors, unreadable flag values and refused input end in one line, never a traceback.

    A flag's text is checked with cafe.text's rules before `handle` runs (a NUL
    or undecodable bytes would otherwise reach the database driver), and a
    service's ValidationError becomes a CommandError with its message.
    """

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def one_line_error(message):
            # A usage mistake gets one clear line and exit 2, not a usage dump.
            self.stderr.write(f"{subcommand}: {message} (see --help)")
            raise SystemExit(USAGE_ERROR)

        parser.error = one_line_error
        return parser

    def execute(self, *args, **options):
        for name, value in options.items():
            if isinstance(value, str) and name not in _DJANGO_OPTIONS:
                check_flag(name, value)
        try:
            return super().execute(*args, **options)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages), returncode=USAGE_ERROR) from None


def check_flag(name: str, value: str) -> None:
    flag = "--" + name.replace("_", "-")
    try:
        text.check_length(value, field=name, what=flag, max_length=FLAG_MAX_LENGTH)
        text.check_characters(value, field=name, what=flag)
    except ValidationError as exc:
        raise CommandError(" ".join(exc.messages), returncode=USAGE_ERROR) from None
