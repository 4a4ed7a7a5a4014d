"""Console channel: the delivery written to the log (a watch officer's terminal, tests)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from seawarden.alerts.channels import Delivery, Outcome

if TYPE_CHECKING:
    from seawarden.alerts.subscriptions import Channel

log = logging.getLogger("seawarden.alerts.console")


class ConsoleSender:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def send(self, delivery: Delivery) -> Outcome:
        log.warning(
            "DELIVER %s r%d to %s (%s): %d bytes",
            delivery.alert_id,
            delivery.revision,
            delivery.recipient,
            delivery.subscription_id,
            len(delivery.payload),
        )
        return Outcome.delivered()

    def close(self) -> None:
        pass


__all__ = ["ConsoleSender"]
