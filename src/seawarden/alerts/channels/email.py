"""E-mail channel: the revision as a plain-text message with the JSON attached, over SMTP.

Some recipients (a liaison officer, a national duty desk without an integration) read
alerts by e-mail. The target is a comma-separated address list; ``options`` — exactly the
names :data:`seawarden.alerts.subscriptions.CHANNEL_OPTIONS` accepts for ``email``:

* ``smtp_host`` (default ``localhost``) and ``smtp_port`` (default 465 with ``tls: ssl``,
  587 with ``tls: starttls``, else 25) — the relay;
* ``tls``: ``ssl`` (implicit TLS from the first byte), ``starttls`` (the session is upgraded
  before anything else is sent; a server that does not offer it is a dead letter, nothing
  goes out in clear) or ``none``. Certificates and host names are verified. Without ``tls``,
  mail goes in clear and **no password is ever offered**: a channel with a secret must say
  ``tls: starttls`` or ``tls: ssl`` — or ``tls: none`` explicitly, for a relay on a trusted
  link — else it is refused when built;
* ``username`` (default: the ``from`` address), ``from`` (default ``seawarden@localhost``),
  ``subject_prefix``, ``format`` (``json``, or ``cap_xml`` to attach the CAP 1.2 document).

The secret is the SMTP password. ``Message-ID`` is derived from the delivery id, so a mail
system that sees a retry of a message it already took can drop the copy. Permanent SMTP
refusals (5xx, refused recipients or sender, failed authentication, STARTTLS not offered)
are dead at once; 4xx and connection failures are retried.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import orjson

from seawarden.alerts.channels import Delivery, Outcome, label, option
from seawarden.errors import ConfigError

if TYPE_CHECKING:
    from seawarden.alerts.subscriptions import Channel


def parse_addresses(text: str) -> list[str]:
    """The recipients of ``a@b.c, d@e.f``; ``ConfigError`` on an unusable address."""
    out = []
    for raw in text.split(","):
        addr = raw.strip()
        if not addr:
            continue
        if any(c in addr for c in '\r\n<>"() ;') or addr.count("@") != 1:
            raise ConfigError(f"e-mail target {addr!r} is not a plain address (name@domain)")
        local, domain = addr.split("@")
        if not local or "." not in domain:
            raise ConfigError(f"e-mail target {addr!r} is not a plain address (name@domain)")
        out.append(addr)
    if not out:
        raise ConfigError("e-mail channel has no recipient address")
    return out


def render(delivery: Delivery, *, sender: str, to: list[str], prefix: str = "") -> EmailMessage:
    """The message for one delivery (payload = the JSON envelope)."""
    envelope = orjson.loads(delivery.payload)
    a: dict[str, Any] = envelope["alert"]
    who = a.get("name") or f"MMSI {a.get('mmsi')}"
    areas = ", ".join(a.get("area_ids") or []) or "no area"
    status = "" if a.get("status") == "Actual" else f"[{str(a.get('status')).upper()}] "
    msg = EmailMessage()
    msg["Subject"] = prefix + (
        f"{status}[{a.get('releasability')}] {str(a.get('severity')).upper()} "
        f"{a.get('msg_type')}: {who} — {areas}"
    )
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = f"<{delivery.delivery_id}@seawarden>"
    msg["X-Seawarden-Delivery"] = delivery.delivery_id
    lines = [
        f"{a.get('msg_type')} (revision {a.get('revision')}) of alert {a.get('id')}",
        f"Release marking: {a.get('releasability')}   Status: {a.get('status')}",
        f"Vessel: {who}  MMSI {a.get('mmsi')}  IMO {a.get('imo')}  flag {a.get('flag')}",
        f"Severity {a.get('severity')}, score {a.get('score')} at {a.get('event_time')}",
        f"Position {a.get('lat')}, {a.get('lon')}; areas: {areas}",
    ]
    nc = a.get("next_crossing")
    if nc:
        where = "inside" if nc.get("inside_now") else f"next crossing at {nc.get('eta')}"
        lines.append(f"{nc.get('area_id')}: {where}")
    lines.append("")
    lines.append("Why:")
    for r in a.get("reasons") or []:
        lines.append(f"  + {r.get('weight')}  {r.get('text')}  ({r.get('detector')})")
    msg.set_content("\n".join(lines) + "\n")
    body = {k: v for k, v in envelope.items() if k != "cap_xml"}
    msg.add_attachment(
        orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2),
        maintype="application",
        subtype="json",
        filename="alert.json",
    )
    cap_xml = envelope.get("cap_xml")
    if isinstance(cap_xml, str):
        msg.add_attachment(
            cap_xml.encode(), maintype="application", subtype="cap+xml", filename="alert.cap.xml"
        )
    return msg


TLS_MODES = ("none", "starttls", "ssl")
_DEFAULT_PORT = {"none": 25, "starttls": 587, "ssl": 465}


def tls_context() -> ssl.SSLContext:
    """The TLS context for SMTP: system trust store, certificate and host name verified."""
    return ssl.create_default_context()


class EmailSender:
    def __init__(self, channel: Channel, *, password: str | None, timeout_s: float) -> None:
        self.channel = channel
        self.to = parse_addresses(channel.target)
        explicit_tls = option(channel, "tls")
        self.tls = explicit_tls or "none"
        if self.tls not in TLS_MODES:
            raise ConfigError(f"{label(channel)}: options.tls must be one of none, starttls, ssl")
        if password is not None and explicit_tls is None:
            raise ConfigError(
                f"{label(channel)}: an SMTP password would be sent in clear text; set "
                "`tls: starttls` or `tls: ssl` (or `tls: none` to accept that on a trusted link)"
            )
        self.host = (option(channel, "smtp_host") or "localhost").strip("[]")
        port_text = option(channel, "smtp_port") or str(_DEFAULT_PORT[self.tls])
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"{label(channel)}: options.smtp_port must be a port 1..65535")
        self.port = int(port_text)
        self.sender = option(channel, "from") or "seawarden@localhost"
        Address(addr_spec=self.sender)  # raises on a malformed From
        self.username = option(channel, "username") or self.sender
        self.password = password
        self.prefix = option(channel, "subject_prefix") or ""
        if self.prefix:
            self.prefix += " "
        self.timeout_s = timeout_s

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout_s, context=tls_context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)

    def _send(self, msg: EmailMessage) -> dict[str, tuple[int, bytes]]:
        smtp = self._connect()
        try:
            if self.tls == "starttls":
                smtp.starttls(context=tls_context())  # SMTPNotSupportedError if not offered
            if self.password is not None:
                # Only over TLS, or where the configuration said `tls: none` in so many words.
                smtp.login(self.username, self.password)
            refused = smtp.send_message(msg)
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            return refused
        finally:
            smtp.close()

    def send(self, delivery: Delivery) -> Outcome:
        try:
            msg = render(delivery, sender=self.sender, to=self.to, prefix=self.prefix)
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            return Outcome.dead(f"payload is not an alert envelope: {exc}")
        try:
            refused = self._send(msg)
        except smtplib.SMTPNotSupportedError as exc:
            return Outcome.dead(f"SMTP server: {exc}; check the channel's options")
        except smtplib.SMTPAuthenticationError as exc:
            return Outcome.dead(f"SMTP authentication failed ({exc.smtp_code})")
        except smtplib.SMTPRecipientsRefused as exc:
            return Outcome.dead(f"all recipients refused: {sorted(exc.recipients)}")
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error[:200]!r}"
            return Outcome.dead(text) if exc.smtp_code >= 500 else Outcome.again(text)
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome.again(f"{type(exc).__name__}: {exc}")
        if refused:
            return Outcome.delivered(refused=sorted(refused))
        return Outcome.delivered(recipients=len(self.to))

    def close(self) -> None:
        pass


__all__ = ["TLS_MODES", "EmailSender", "parse_addresses", "render", "tls_context"]
