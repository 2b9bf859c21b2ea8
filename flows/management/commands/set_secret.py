"""Set a secret from the command line: `python manage.py set_secret NAME < value-file`.

The value is read from standard input, never from the command line, where other users of the
machine and the shell's history would see it."""

from __future__ import annotations

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from flows.secrets import vault


class Command(BaseCommand):
    help = "Create or replace the secret NAME with the value read from standard input."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: object, name: str, **options: object) -> None:
        if sys.stdin.isatty():
            self.stderr.write(f"Value of {name} (then Ctrl-D):")
        value = sys.stdin.read().removesuffix("\n")
        if not value:
            raise CommandError("no value on standard input")
        try:
            vault.set_secret(name, value, None)
        except (ValidationError, ValueError) as error:
            raise CommandError(_one_line(error)) from None
        self.stdout.write(f"Secret {name} saved.")


def _one_line(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)
