"""manage.py create_api_token: issue a Bearer token and print it once, alone on the last line."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from driftwatch.models import SCOPE_ALIASES, ApiToken, TokenScope
from driftwatch.roles import GROUP_NAMES, group_for_scope


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (the last line of output is the token)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username that owns the token.")
        parser.add_argument(
            "--create-user",
            action="store_true",
            help="Create the user if it does not exist, in the group the scope needs (Viewers, Triagers or "
            "Administrators).",
        )
        parser.add_argument("--name", default="", help="A label for the token.")
        parser.add_argument(
            "--scope",
            choices=[*TokenScope.values, *SCOPE_ALIASES],
            default=TokenScope.READ.value,
            help="read; triage (read, move and resolve drifts, capture baselines, start scans); admin (everything). "
            '"write" is the old name of admin.',
        )
        parser.add_argument("--expires-days", type=int, default=None, help="Expire after N days (default: never).")

    def handle(self, *args, user, create_user, name, scope, expires_days, **options):
        scope = TokenScope.parse(scope)
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be a positive number of days.")
        User = get_user_model()
        with transaction.atomic():
            owner = User.objects.filter(username=user).first()
            if owner is None:
                if not create_user:
                    raise CommandError(f"User {user!r} does not exist (pass --create-user to create it).")
                owner = User.objects.create_user(username=user)
                group = group_for_scope(scope)
                owner.groups.add(group)
                self.stderr.write(f"Created user {user!r} in group {group.name!r} (no password; cannot sign in).")
            expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
            token, raw = ApiToken.issue(owner, name=name, scope=scope, expires_at=expires_at)
        self._warn_if_owner_cannot(owner, scope)
        self.stderr.write(
            f"Token {token.key_hint}… ({scope.value}) for {user!r}"
            + (f", expires {expires_at:%Y-%m-%d}" if expires_at else "")
            + ". It is shown once and stored only as a hash:"
        )
        self.stdout.write(raw)

    def _warn_if_owner_cannot(self, owner, scope: TokenScope) -> None:
        """A token acts within its owner's permissions: say so when the owner lacks what the scope is for."""
        owner = get_user_model().objects.get(pk=owner.pk)  # fresh, without a stale permission cache
        granted = group_for_scope(scope).permissions.select_related("content_type")
        needed = {f"{p.content_type.app_label}.{p.codename}" for p in granted}
        missing = sorted(p for p in needed if not owner.has_perm(p))
        if missing:
            self.stderr.write(
                f"Warning: {owner.get_username()!r} lacks {len(missing)} permission(s) of the {scope.value} scope "
                f"(e.g. {missing[0]}); the token is refused those actions until the user joins the "
                f"{GROUP_NAMES[scope]!r} group or gets the permissions."
            )
