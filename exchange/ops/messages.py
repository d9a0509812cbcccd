"""The words of an alert: a subject line and a short text an on-call engineer can act on, with the
feed, what is wrong, since when and what to look at. Every text is redacted (ID numbers, passwords,
tokens) before it leaves."""

from __future__ import annotations

from exchange.formats.masking import redact
from exchange.ops.channels import Message

PREFIX = "[exchange]"
MAX_TEXT = 2_000


def message(event: str, kind: str, feed: str | None, summary: str, detail: str, at: str,
            contact: str | None = None) -> Message:
    what = f"{feed}: {kind}" if feed else kind
    head = "RESOLVED" if event == "resolved" else "ALERT"
    subject = redact(f"{PREFIX} {head} {what} — {summary}")[:300]
    lines = [f"{head}: {what}", "", summary, ""]
    if detail:
        lines += [detail, ""]
    if contact:
        lines.append(f"Feed contact: {contact}")
    lines.append(f"At: {at} UTC")
    if feed:
        lines.append(f"Look: exchange feeds status · exchange batches --feed {feed}")
    text = redact("\n".join(lines))
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + "… (cut)"
    return Message(event=event, kind=kind, feed=feed, subject=subject, text=text, at=at)
