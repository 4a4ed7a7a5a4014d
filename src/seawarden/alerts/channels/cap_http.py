"""CAP-over-HTTP channel: the revision as an OASIS CAP 1.2 XML document, POSTed and signed.

Civil-protection and coast-guard systems that already take CAP feeds receive seawarden's
warnings without a bespoke parser. The XML is rendered once when the revision is queued
(:func:`seawarden.alerts.cap.to_cap_xml`, with ``references`` to the earlier revisions),
so every retry sends the same bytes. Signing, idempotency key and the treatment of answers
are the webhook's (:mod:`seawarden.alerts.channels.webhook`).
"""

from __future__ import annotations

from seawarden.alerts.channels.webhook import HttpPoster


class CapHttpSender(HttpPoster):
    content_type = "application/cap+xml"


__all__ = ["CapHttpSender"]
