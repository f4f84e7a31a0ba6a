"""docs/rules.md is the output of `manage.py rules_doc`, so the docs cannot drift from the catalogue."""

from io import StringIO
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from drifts import rules

RULES_MD = Path(settings.BASE_DIR) / "docs" / "rules.md"


def _rendered() -> str:
    out = StringIO()
    call_command("rules_doc", stdout=out)
    return out.getvalue()


def test_docs_rules_md_equals_the_command_output():
    assert RULES_MD.read_text() == _rendered(), "docs/rules.md is stale: run `make docs`"


def test_rules_doc_lists_every_catalogue_rule_once():
    table = [line for line in _rendered().splitlines() if line.startswith("| ") and not line.startswith("| Resource")]
    assert len(table) == len(rules.CATALOGUE)
    assert table[0] == "| any | (whole resource) | a baselined resource is gone | configuration | high |"
    assert "| S3 bucket | `PublicAccessBlock.*` | a flag turned off (true -> false) | security | critical |" in table
