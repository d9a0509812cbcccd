"""The channels alerts travel by, one class each, chosen by the route's URL. A route is a named
connection (``EXCHANGE_CONN_<NAME>`` or an Airflow connection: the address and any password or
token live there, never in YAML):

- ``smtp://[user:password@]host[:port]?from=exchange@city.gov&to=a@city.gov,b@city.gov[&starttls=1]``
  (``smtps://`` for TLS from the start) — an e-mail;
- ``https://host/path`` or ``http://…`` (with the connection's usual auth: ``?auth=bearer&token=…``,
  basic, api_key) — a webhook: one JSON POST per message ``{"event", "kind", "feed", "subject",
  "text", "at"}``.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from exchange.errors import ConfigError
from exchange.spec.connections import ConnectionInfo, resolve_connection

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Message:
    event: str
    """firing or resolved"""
    kind: str
    feed: str | None
    subject: str
    text: str
    at: str


class Channel:
    kind: ClassVar[str]
    schemes: ClassVar[tuple[str, ...]]

    def __init__(self, route: str, info: ConnectionInfo) -> None:
        self.route, self.info = route, info

    @property
    def recipient(self) -> str:
        """Who receives it, as the delivery record shows it (no secret)."""
        raise NotImplementedError

    def send(self, message: Message) -> None:
        raise NotImplementedError


class Email(Channel):
    kind = "email"
    schemes = ("smtp", "smtps")

    def __init__(self, route: str, info: ConnectionInfo) -> None:
        super().__init__(route, info)
        parts = urlsplit(info.url)
        query = {k.lower(): v[-1] for k, v in parse_qs(parts.query).items()}
        self.to = [a.strip() for a in query.get("to", "").split(",") if a.strip()]
        self.sender = query.get("from", "")
        where = f"alert route {route!r} ({info.origin})"
        if not self.to or not self.sender:
            raise ConfigError(f"{where}: an smtp:// route needs ?from=…&to=… (addresses, comma-separated)")
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.tls = parts.scheme == "smtps"
        self.starttls = query.get("starttls", "0").lower() in ("1", "true", "yes")
        self.user = info.username or (unquote(parts.username) if parts.username else None)
        self.password = info.password or (unquote(parts.password) if parts.password else None)

    @property
    def recipient(self) -> str:
        return ", ".join(self.to)

    def send(self, message: Message) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, ", ".join(self.to), message.subject
        mail.set_content(message.text)
        smtp_class = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
        with smtp_class(self.host, self.port, timeout=TIMEOUT_SECONDS) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(mail)


class Webhook(Channel):
    kind = "webhook"
    schemes = ("http", "https")

    def __init__(self, route: str, info: ConnectionInfo) -> None:
        super().__init__(route, info)
        self.target = info.http()

    @property
    def recipient(self) -> str:
        return urlsplit(self.target.base_url).netloc

    def send(self, message: Message) -> None:
        import base64
        from urllib.parse import urlencode

        url = self.target.base_url + (f"?{urlencode(self.target.params)}" if self.target.params else "")
        body = json.dumps({"event": message.event, "kind": message.kind, "feed": message.feed,
                           "subject": message.subject, "text": message.text, "at": message.at},
                          ensure_ascii=False).encode()
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", **self.target.headers})
        if self.target.basic:
            user, password = self.target.basic
            request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            if response.status >= 300:
                raise OSError(f"the webhook answered HTTP {response.status}")


CHANNELS: tuple[type[Channel], ...] = (Email, Webhook)


def channel_for(route: str) -> Channel:
    """The channel of a route (a connection name); ConfigError when it is not defined or not usable."""
    info = resolve_connection(route)
    scheme = urlsplit(info.url).scheme.lower()
    for cls in CHANNELS:
        if scheme in cls.schemes:
            return cls(route, info)
    known = ", ".join(f"{s}://" for cls in CHANNELS for s in cls.schemes)
    raise ConfigError(f"alert route {route!r} ({info.origin}): {scheme}:// is not an alert channel; use {known}")
