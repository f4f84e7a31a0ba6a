"""manage.py create_api_token: issue a Bearer token and print it once, alone on the last line."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from driftwatch.models import ApiToken, TokenScope


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (the last line of output is the token)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username that owns the token.")
        parser.add_argument("--create-user", action="store_true", help="Create the user if it does not exist.")
        parser.add_argument("--name", default="", help="A label for the token.")
        parser.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ)
        parser.add_argument("--expires-days", type=int, default=None, help="Expire after N days (default: never).")

    def handle(self, *args, user, create_user, name, scope, expires_days, **options):
        User = get_user_model()
        owner = User.objects.filter(username=user).first()
        if owner is None:
            if not create_user:
                raise CommandError(f"User {user!r} does not exist (pass --create-user to create it).")
            owner = User.objects.create_user(username=user)
            self.stderr.write(f"Created user {user!r} (no password; cannot sign in to the admin).")
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be a positive number of days.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        token, raw = ApiToken.issue(owner, name=name, scope=scope, expires_at=expires_at)
        self.stderr.write(
            f"Token {token.key_hint}… ({scope}) for {user!r}"
            + (f", expires {expires_at:%Y-%m-%d}" if expires_at else "")
            + ". It is shown once and stored only as a hash:"
        )
        self.stdout.write(raw)
