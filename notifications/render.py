"""What each channel receives, rendered from event envelopes: pure Python over dicts, no database.

An envelope is {"type", "timestamp", "id", "data"}. Slack messages stay inside Slack's limits whatever the
findings say (no section text over 3,000 characters, at most 50 blocks); a digest shows the counts by
severity, the top findings and "and N more" with a link.
"""

import json

from django.utils.html import escape

from driftwatch.api.serializers import iso_utc

from . import links
from .models import SEVERITY_RANK

SLACK_SECTION_LIMIT = 3000
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_LIMIT = 150
SLACK_BUTTON_TEXT_LIMIT = 75
DIGEST_TOP = 10
VALUE_LIMIT = 300
SEVERITY_ORDER = ("critical", "high", "medium", "low")
SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":white_circle:",
}


def envelope(event) -> dict:
    """The envelope receivers get for an outbox event, with links to the API and admin pages added."""
    data = dict(event.data)
    if "drift" in data:
        data["drift"] = {**data["drift"], "links": links.drift_links(data["drift"]["id"])}
    if "job" in data:
        data["job"] = {**data["job"], "links": links.job_links(data["job"]["id"])}
    return {"type": event.type, "timestamp": iso_utc(event.created_at), "id": f"evt_{event.pk}", "data": data}


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(value) -> str:
    return _cut(json.dumps(value, ensure_ascii=False, default=str), VALUE_LIMIT)


def by_severity(envelopes: list[dict]) -> list[dict]:
    """Drift envelopes, most severe first (then oldest first)."""
    return sorted(envelopes, key=lambda e: (-SEVERITY_RANK.get(e["data"]["drift"]["severity"], -1), e["id"]))


def severity_counts(envelopes: list[dict]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    for e in envelopes:
        counts[e["data"]["drift"]["severity"]] = counts.get(e["data"]["drift"]["severity"], 0) + 1
    return counts


def headline(env: dict) -> str:
    """One line saying what happened."""
    data = env["data"]
    if "drift" in data:
        drift = data["drift"]
        what = {
            "drift.detected": "New drift",
            "drift.status_changed": f"Drift {data.get('from')} → {data.get('to')}",
            "drift.resolved": f"Drift resolved ({data.get('resolution')})",
        }.get(env["type"], env["type"])
        return f"{what} [{drift['severity']}] {drift['resource_name']}: {drift['summary']}"
    if "job" in data:
        job = data["job"]
        return (
            f"Detection job #{job['id']} {job['status']}: {job['drifts_new']} new drift(s), "
            f"{job['errors_count']} error(s)"
        )
    return data.get("message", env["type"])


# --- Slack --------------------------------------------------------------------------------------------


def _section(text: str, button: tuple[str, str] | None = None) -> dict:
    block = {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SLACK_SECTION_LIMIT)}}
    if button:
        label, url = button
        block["accessory"] = {
            "type": "button",
            "text": {"type": "plain_text", "text": _cut(label, SLACK_BUTTON_TEXT_LIMIT)},
            "url": url,
        }
    return block


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, SLACK_HEADER_LIMIT)}}


def _slack_drift_text(env: dict) -> str:
    drift = env["data"]["drift"]
    lines = [
        f"{SEVERITY_EMOJI.get(drift['severity'], '')} *{drift['severity'].upper()}* · {drift['drift_type']} · "
        f"`{drift['resource_type']}` *{drift['resource_name']}* ({drift['provider_name']})",
        drift["summary"],
        f"`{drift['path'] or '(resource)'}`: {_value(drift['baseline_value'])} → {_value(drift['current_value'])}",
    ]
    changed_by = drift.get("changed_by") or env["data"].get("actor")
    if changed_by:
        lines.append(f"Changed by: {changed_by}")
    if env["data"].get("note"):
        lines.append(f"Note: {env['data']['note']}")
    return "\n".join(lines)


def slack_event(env: dict) -> dict:
    """One event as a Slack message."""
    title = headline(env)
    blocks = [_header(title.split(":")[0])]
    data = env["data"]
    if "drift" in data:
        blocks.append(_section(_slack_drift_text(env), ("Open in DriftWatch", data["drift"]["links"]["admin"])))
    elif "job" in data:
        blocks.append(_section(title, ("Open job", data["job"]["links"]["admin"])))
    else:
        blocks.append(_section(title))
    return {"text": _cut(title, SLACK_SECTION_LIMIT), "blocks": blocks[:SLACK_MAX_BLOCKS]}


def slack_digest(job_env: dict, drift_envs: list[dict], provider_id: int | None = None) -> dict:
    """A scan's findings as one Slack message: counts by severity, the top findings, "and N more"."""
    job = job_env["data"]["job"]
    counts = severity_counts(drift_envs)
    top = by_severity(drift_envs)[:DIGEST_TOP]
    title = f"DriftWatch: {len(drift_envs)} finding(s) in scan #{job['id']}"
    summary = " · ".join(f"{SEVERITY_EMOJI[s]} {counts[s]} {s}" for s in SEVERITY_ORDER if counts.get(s))
    blocks = [
        _header(title),
        _section(
            f"Scan #{job['id']} {job['status']} · {summary or 'no findings'}", ("Open job", job["links"]["admin"])
        ),
        {"type": "divider"},
    ]
    for env in top:
        blocks.append(_section(_slack_drift_text(env), ("Open", env["data"]["drift"]["links"]["admin"])))
    more = len(drift_envs) - len(top)
    if more > 0:
        blocks.append(_section(f"…and {more} more.", ("See all open drifts", links.open_drifts_link(provider_id))))
    return {"text": _cut(f"{title}: {summary}", SLACK_SECTION_LIMIT), "blocks": blocks[:SLACK_MAX_BLOCKS]}


# --- Email --------------------------------------------------------------------------------------------


def _email_drift_lines(env: dict) -> list[str]:
    drift = env["data"]["drift"]
    lines = [
        f"[{drift['severity'].upper()}] {drift['resource_type']} {drift['resource_name']} ({drift['provider_name']})",
        f"  {drift['summary']}",
        f"  {drift['path'] or '(resource)'}: {_value(drift['baseline_value'])} -> {_value(drift['current_value'])}",
    ]
    if env["data"].get("actor"):
        lines.append(f"  Changed by: {env['data']['actor']}")
    lines.append(f"  {drift['links']['admin']}")
    return lines


def _email_drift_html(env: dict) -> str:
    drift = env["data"]["drift"]
    return (
        f"<li><strong>[{escape(drift['severity'].upper())}]</strong> {escape(drift['resource_type'])} "
        f"<strong>{escape(drift['resource_name'])}</strong> ({escape(drift['provider_name'])})<br>"
        f"{escape(drift['summary'])}<br><code>{escape(drift['path'] or '(resource)')}</code>: "
        f"{escape(_value(drift['baseline_value']))} &rarr; {escape(_value(drift['current_value']))}<br>"
        f'<a href="{escape(drift["links"]["admin"])}">Open in DriftWatch</a></li>'
    )


def email_event(env: dict) -> dict:
    """One event as an email: subject, plain text and HTML."""
    subject = _cut("DriftWatch: " + headline(env), 200)
    data = env["data"]
    if "drift" in data:
        text = "\n".join([headline(env), "", *_email_drift_lines(env)])
        html = f"<p>{escape(headline(env))}</p><ul>{_email_drift_html(env)}</ul>"
    elif "job" in data:
        text = f"{headline(env)}\n{data['job']['links']['admin']}"
        html = f'<p>{escape(headline(env))}</p><p><a href="{escape(data["job"]["links"]["admin"])}">Open job</a></p>'
    else:
        text, html = headline(env), f"<p>{escape(headline(env))}</p>"
    return {"subject": subject, "text": text, "html": html}


def email_digest(job_env: dict, drift_envs: list[dict], provider_id: int | None = None) -> dict:
    """A scan's findings as one email."""
    job = job_env["data"]["job"]
    counts = severity_counts(drift_envs)
    top = by_severity(drift_envs)[:DIGEST_TOP]
    summary = ", ".join(f"{counts[s]} {s}" for s in SEVERITY_ORDER if counts.get(s))
    subject = f"DriftWatch: {len(drift_envs)} finding(s) in scan #{job['id']} ({summary})"
    more = len(drift_envs) - len(top)
    text_lines = [f"Scan #{job['id']} {job['status']}: {summary}", job["links"]["admin"], ""]
    for env in top:
        text_lines += _email_drift_lines(env) + [""]
    if more > 0:
        text_lines.append(f"...and {more} more: {links.open_drifts_link(provider_id)}")
    html = (
        f'<p>Scan <a href="{escape(job["links"]["admin"])}">#{job["id"]}</a> {escape(job["status"])}: '
        f"{escape(summary)}</p><ul>{''.join(_email_drift_html(e) for e in top)}</ul>"
    )
    if more > 0:
        html += f'<p>&hellip;and {more} more: <a href="{escape(links.open_drifts_link(provider_id))}">see all</a></p>'
    return {"subject": _cut(subject, 200), "text": "\n".join(text_lines), "html": html}
