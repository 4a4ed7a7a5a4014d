"""The live hub decides what an ally receives with the same rule as ``GET /api/alerts``
(:func:`seawarden.api.principal.visible_revisions`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import orjson
import pytest

from seawarden.api.hub import Hub, StreamClient
from seawarden.api.principal import Principal, visible_revisions
from tests.api.conftest import make_alert

DNK = Principal(name="dnk", role="ally", nation="DNK", areas=frozenset({"baltic-pipe"}))
ANALYST = Principal(name="a", role="analyst", nation=None, areas=None)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def _revisions(c: StreamClient) -> list[int]:
    out = []
    for f in c._frames:
        assert f.startswith(b"event: alert\n")
        data = f.split(b"data: ", 1)[1].strip()
        out.append(orjson.loads(data)["revision"])
    return out


def test_hidden_revision_about_the_allys_area_does_not_leak_later_ones(
    loop: asyncio.AbstractEventLoop,
) -> None:
    hub = Hub()
    ally = hub.connect(DNK, loop)
    staff = hub.connect(ANALYST, loop)
    # r1 is about DNK's area but not releasable to DNK; r2 is releasable but elsewhere.
    r1 = make_alert("a-x", releasability="REL GBR", area_ids=("baltic-pipe",), next_crossing=None)
    r2 = replace(
        r1, revision=2, msg_type="Update", releasability="REL JEF", area_ids=("north-sea-link",)
    )
    hub.publish_alerts([r1, r2])
    assert visible_revisions(DNK, [r1.to_dict(), r2.to_dict()]) == []
    assert _revisions(ally) == []
    assert _revisions(staff) == [1, 2]


def test_readable_revision_in_area_keeps_alert_visible(loop: asyncio.AbstractEventLoop) -> None:
    hub = Hub()
    ally = hub.connect(DNK, loop)
    r1 = make_alert("a-y", releasability="REL JEF", area_ids=("baltic-pipe",), next_crossing=None)
    r2 = replace(
        r1, revision=2, msg_type="Update", releasability="REL GBR", area_ids=("baltic-pipe",)
    )
    r3 = replace(
        r1, revision=3, msg_type="Update", releasability="REL JEF", area_ids=("north-sea-link",)
    )
    hub.publish_alerts([r1, r2, r3])
    # r2 is unreadable (hidden); r3 is shown because readable r1 was about baltic-pipe.
    assert _revisions(ally) == [1, 3]
    assert [r["revision"] for r in visible_revisions(DNK, [r1.to_dict(), r3.to_dict()])] == [1, 3]
