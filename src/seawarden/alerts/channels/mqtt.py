"""MQTT channel: the revision published on the recipient's topic of an allied message bus.

A navy or coast-guard network that already runs an MQTT broker subscribes its consoles to
one topic per recipient: seawarden publishes the JSON envelope to
``<topic>/<subscription id>`` with QoS 1 (the broker acknowledges it: at-least-once) and
without the retain flag (a console that connects tomorrow must not take yesterday's alert
for a current one; it reads the history from the API). QoS is fixed: below 1 the worker
could not know the broker took the alert. The target is ``mqtt://host:port/topic``
(``mqtts://`` for TLS, port 1883/8883 by default); options (exactly those
:mod:`seawarden.alerts.subscriptions` accepts): ``username``, ``client_id``, ``format``
(``json`` envelope, ``cap_json``, ``cap_xml``). The secret, if any, is the broker password,
with ``username`` (default: the client id, else ``seawarden``) as user name.

The connection is kept between deliveries and rebuilt after any failure; a publish not
acknowledged within the timeout is retried by the worker (the receiver deduplicates by the
envelope's ``delivery_id``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from seawarden.alerts.channels import Delivery, Outcome, label, option
from seawarden.errors import ConfigError

if TYPE_CHECKING:
    from seawarden.alerts.subscriptions import Channel

_WILDCARDS = frozenset("#+")


def parse_target(channel: Channel) -> tuple[str, int, str, bool]:
    """``(host, port, topic, tls)`` from ``mqtt[s]://host:port/topic``, else ``ConfigError``."""
    try:
        parts = urlsplit(channel.target.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"mqtt target is not a valid URL ({exc})") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"{label(channel)}: target must be mqtt://host:port/topic")
    topic = unquote(parts.path.lstrip("/")).rstrip("/")
    has_extra = bool(parts.query or parts.fragment) or "#" in channel.target
    if not topic or has_extra or _WILDCARDS & set(topic) or "\x00" in topic:
        raise ConfigError(f"{label(channel)}: needs a topic without wildcards (mqtt://host/topic)")
    tls = parts.scheme == "mqtts"
    return parts.hostname, port or (8883 if tls else 1883), topic, tls


class MqttSender:
    def __init__(self, channel: Channel, *, password: str | None, timeout_s: float) -> None:
        self.channel = channel
        self.host, self.port, self.topic, self.tls = parse_target(channel)
        self.qos = 1
        self.client_id = option(channel, "client_id") or ""
        user = option(channel, "username") or self.client_id or "seawarden"
        self.username = user if password else None
        self.password = password
        self.timeout_s = timeout_s
        self._client: mqtt.Client | None = None
        self._connack = threading.Event()
        self._connack_error: str | None = None

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._connack_error = str(reason) if reason.is_failure else None
        self._connack.set()

    def _connect(self) -> mqtt.Client:
        if self._client is not None and self._client.is_connected():
            return self._client
        self._reset()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        self._connack.clear()
        self._connack_error = None
        client.connect(self.host, self.port, keepalive=60)
        client.loop_start()
        self._client = client
        if not self._connack.wait(self.timeout_s):
            raise TimeoutError("no CONNACK from broker")
        if self._connack_error is not None:
            raise PermissionError(f"broker refused the connection: {self._connack_error}")
        return client

    def send(self, delivery: Delivery) -> Outcome:
        topic = f"{self.topic}/{delivery.subscription_id}"
        try:
            client = self._connect()
            info = client.publish(topic, delivery.payload, qos=self.qos, retain=False)
            info.wait_for_publish(self.timeout_s)
            if not info.is_published():
                raise TimeoutError("broker did not acknowledge the publish (PUBACK)")
        except PermissionError as exc:
            self._reset()
            return Outcome.again(str(exc))
        except (OSError, TimeoutError, RuntimeError, ValueError) as exc:
            self._reset()
            return Outcome.again(f"{type(exc).__name__}: {exc}")
        return Outcome.delivered(topic=topic)

    def _reset(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.disconnect()
            finally:
                client.loop_stop()

    def close(self) -> None:
        self._reset()


__all__ = ["MqttSender", "parse_target"]
