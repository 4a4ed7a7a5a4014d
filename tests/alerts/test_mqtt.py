"""The MQTT channel against a real broker (amqtt, in-process on loopback)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from seawarden.alerts.channels import Delivery
from seawarden.alerts.channels.mqtt import MqttSender, parse_target
from seawarden.alerts.dispatch import Dispatcher, RetryPolicy
from seawarden.alerts.outbox import OutboxSink
from seawarden.alerts.subscriptions import Channel, Subscription
from seawarden.errors import ConfigError
from seawarden.store.sqlite import SQLiteStore
from tests.alerts.factories import channel_from_config, make_alert, revise
from tests.alerts.receivers import free_port, mqtt_broker, wait_for


class Listener:
    """A console subscribed to every recipient topic under ``seawarden/``."""

    def __init__(self, port: int) -> None:
        self.messages: list[Any] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *a: c.subscribe("seawarden/#", qos=1)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = lambda c, u, m: self.messages.append(m)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "listener did not subscribe"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def broker() -> Iterator[int]:
    with mqtt_broker() as port:
        yield port


def channel(port: int, **options: str) -> Channel:
    return channel_from_config("mqtt", f"mqtt://127.0.0.1:{port}/seawarden/alerts", **options)


def test_publish_qos1_not_retained_on_the_recipient_topic(broker: int) -> None:
    listener = Listener(broker)
    ch = channel(broker)
    sender = MqttSender(ch, password=None, timeout_s=5)
    body = orjson.dumps({"delivery_id": "k1", "alert": {"id": "a", "revision": 1}})
    d = Delivery(
        delivery_id="k1",
        alert_id="a",
        revision=1,
        subscription_id="swe-moc",
        recipient="Sweden",
        channel=ch,
        payload=body,
        attempt=1,
    )
    out = sender.send(d)
    out2 = sender.send(d)  # the kept connection is reused
    sender.close()
    assert out.ok, out
    assert out2.ok, out2
    wait_for(lambda: len(listener.messages) == 2, what="two messages")
    listener.close()
    m = listener.messages[0]
    assert m.topic == "seawarden/alerts/swe-moc"
    assert m.payload == body
    assert m.qos == 1
    assert not m.retain


def test_worker_delivers_every_revision_over_mqtt(broker: int, tmp_path: Path) -> None:
    listener = Listener(broker)
    store = SQLiteStore(tmp_path / "s.db")
    subs = [
        Subscription(
            id="ltu-moc",
            recipient="Lithuania MOC",
            nation="LTU",
            audience=frozenset({"LTU"}),
            areas=None,
            min_severity="medium",
            channels=(channel(broker),),
        )
    ]
    sink = OutboxSink(store, subs)
    worker = Dispatcher(store.path, subs, secrets={}, policy=RetryPolicy(base_s=0.05))
    worker.start()
    sink.on_enqueue = worker.wake
    first = make_alert()
    revs = [first, revise(first, "Update"), revise(revise(first, "Update"), "Cancel")]
    sink.write(revs)
    wait_for(lambda: worker.stats.delivered == 3, what="three deliveries")
    worker.stop()
    store.close()
    wait_for(lambda: len(listener.messages) == 3, what="three messages")
    listener.close()
    got = [orjson.loads(m.payload)["alert"] for m in listener.messages]
    assert sorted((a["id"], a["revision"]) for a in got) == [(first.id, r) for r in (1, 2, 3)]
    assert {m.topic for m in listener.messages} == {"seawarden/alerts/ltu-moc"}


def test_broker_down_is_a_retry() -> None:
    ch = channel(free_port())
    sender = MqttSender(ch, password=None, timeout_s=1)
    d = Delivery(
        delivery_id="k",
        alert_id="a",
        revision=1,
        subscription_id="s",
        recipient="r",
        channel=ch,
        payload=b"{}",
        attempt=1,
    )
    out = sender.send(d)
    sender.close()
    assert not out.ok
    assert out.retry
    assert "Refused" in (out.error or "")


@pytest.mark.parametrize(
    "target",
    [
        "mqtt://127.0.0.1:1883/",
        "mqtt://127.0.0.1:1883/a/#",
        "mqtt://127.0.0.1:1883/a/+/b",
        "http://127.0.0.1/topic",
        "mqtt://127.0.0.1:70000/t",
        "mqtt:///t",
    ],
)
def test_bad_targets_are_config_errors(target: str) -> None:
    with pytest.raises(ConfigError):
        parse_target(Channel(kind="mqtt", target=target))


def test_target_defaults() -> None:
    assert parse_target(Channel(kind="mqtt", target="mqtts://bus.example/x/y")) == (
        "bus.example",
        8883,
        "x/y",
        True,
    )


@pytest.mark.parametrize("name", ["qos", "tls"])
def test_options_the_channel_does_not_have_are_refused_at_load(name: str) -> None:
    # The documentation once offered `qos` and `tls`; the loader refuses them, and the
    # sender no longer reads them (QoS is always 1; TLS is the mqtts:// scheme).
    with pytest.raises(ConfigError, match=f"unknown mqtt option '{name}'"):
        channel(1883, **{name: "1"})


def test_username_and_client_id_from_config_are_used() -> None:
    ch = channel(1883, username="seawarden-fin", client_id="sw-fin")
    sender = MqttSender(ch, password="broker-pass-3c9d", timeout_s=1)
    assert (sender.username, sender.client_id, sender.qos) == ("seawarden-fin", "sw-fin", 1)
    assert MqttSender(ch, password=None, timeout_s=1).username is None
