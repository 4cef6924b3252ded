"""Rendering: one queued message becomes the in-app title and body, an e-mail and a short text (SMS/push).

Templates are files in notifications/templates (string.Template, `$name`). Only fields listed here reach a
template: never arm information (blinding holds in every message). The in-app text, read after signing in,
names the participant's code and the alert; e-mail and the short text say only that there is something to
look at, never the reading.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

TEMPLATES = Path(__file__).parent / "templates"

# how e-mail and SMS name a message: what kind of thing is waiting, nothing about its content
WHAT = {
    "alert": "{an} {severity} alert",
    "dose_review": "a dose-review suggestion",
    "operational": "an item for the study team",
    "reminder": "a reminder from your study",
    "own_alert": "a note from your study",
    "summary": "a weekly summary",
}

LABELS = {
    "visit.reminder": "Study visit reminder",
    "visit.missed": "Missed study visit",
    "diary.reminder": "Diary reminder",
    "diary.remind_fasting": "Diary reminder",
    "diary.silent": "No diary entries lately",
    "diary.flag_silent": "No diary entries lately",
    "episodes.weekly_summary": "Weekly hypoglycemia summary",
}


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    email_subject: str
    email_text: str
    email_html: str
    short_text: str


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def _label(kind: str, payload: dict[str, Any]) -> str:
    alert_kind = payload.get("kind")
    if isinstance(alert_kind, str) and kind.startswith("alert."):
        return alert_kind.replace("_", " ")
    return LABELS.get(kind, kind.replace(".", " ").replace("_", " ").capitalize())


def _what(category: str, severity: str) -> str:
    phrase = WHAT.get(category, "a message")
    an = "an" if severity[:1] in "aeiou" else "a"
    return phrase.format(an=an, severity=severity)


def render(
    *,
    kind: str,
    category: str,
    severity: str,
    payload: dict[str, Any],
    link_base_url: str,
    with_email: bool = True,
) -> Rendered:
    """The texts of one message for every channel (`with_email=False`: the e-mail bodies stay empty)."""
    fields = {
        "label": _label(kind, payload),
        "subject": str(payload.get("subject_code") or "participant"),
        "rule": str(payload.get("rule") or "-"),
        "protocol_version": str(payload.get("protocol_version") or "-"),
        "severity": severity,
        "Severity": severity.capitalize(),
        # a short line for the inbox that the enqueuing job wrote (e.g. "Visit month 3 on 2026-05-12")
        "summary": str(payload.get("summary") or _label(kind, payload)),
        "team_told": "Your study team has been told." if severity in ("urgent", "critical") else "",
    }
    name = f"inapp_{category}.txt" if (TEMPLATES / f"inapp_{category}.txt").exists() else "inapp_reminder.txt"
    title, _, body = _template(name).safe_substitute(fields).partition("\n")
    link = link_base_url.rstrip("/") + "/"
    outside = {"what": _what(category, severity), "link": link}
    return Rendered(
        title=title.strip()[:200],
        body=body.strip()[:2000],
        email_subject=f"Glucodiary: {outside['what']}",
        email_text=_template("email.txt").safe_substitute(outside) if with_email else "",
        email_html=(
            _template("email.html").safe_substitute({k: html.escape(v) for k, v in outside.items()})
            if with_email
            else ""
        ),
        short_text=_template("short.txt").safe_substitute(outside).strip(),
    )
