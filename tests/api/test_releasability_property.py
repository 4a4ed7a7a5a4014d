"""Property: whatever the markings, an ally is never shown an alert not released to it."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.alerts.releasability import JEF, NATO, parse_label, releasable
from seawarden.api import ApiSettings, create_app, db, tokens
from tests.api.conftest import build_store, make_alert

NATIONS = sorted(NATO | JEF | {"AUS", "JPN", "UKR"})
AREAS = ["baltic-pipe", "nord-stream", "estlink-1", "north-sea-link", "c-lion1"]

marking = st.one_of(
    st.sampled_from(["REL JEF", "REL NATO", "REL NATO, UKR", "REL TO GBR, NOR"]),
    st.lists(st.sampled_from(NATIONS), min_size=1, max_size=4).map(
        lambda ns: "REL " + ", ".join(ns)
    ),
)
alert_spec = st.tuples(
    st.lists(marking, min_size=1, max_size=3),  # one marking per revision
    st.lists(st.sampled_from(AREAS), max_size=2),
)


@settings(max_examples=40, deadline=None)
@given(
    specs=st.lists(alert_spec, min_size=1, max_size=6),
    nation=st.sampled_from(NATIONS),
    areas=st.one_of(st.just(("all",)), st.lists(st.sampled_from(AREAS), min_size=1).map(tuple)),
    limit=st.integers(1, 5),
)
def test_ally_never_sees_an_unreleasable_revision(
    specs: list[tuple[list[str], list[str]]], nation: str, areas: tuple[str, ...], limit: int
) -> None:
    alerts = []
    for i, (markings, area_ids) in enumerate(specs):
        base = make_alert(f"p-{i}", area_ids=tuple(area_ids), next_crossing=None)
        alerts += [
            replace(base, revision=r + 1, msg_type="Alert" if r == 0 else "Update",
                    releasability=m)
            for r, m in enumerate(markings)
        ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.db"
        build_store(path, alerts)
        with db.connection(path) as conn:
            secret, _ = tokens.create(
                conn, name="ally", role="ally", actor="test", nation=nation, areas=areas
            )
        with TestClient(create_app(ApiSettings(store=path))) as client:
            headers = {"Authorization": f"Bearer {secret}"}
            listed: list[str] = []
            cursor = None
            for _ in range(20):
                params: dict[str, str | int] = {"limit": limit}
                if cursor:
                    params["cursor"] = cursor
                page = client.get("/api/alerts", headers=headers, params=params).json()
                for item in page["items"]:
                    assert nation in parse_label(item["alert"]["releasability"])
                    listed.append(item["alert"]["id"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            for i, (markings, area_ids) in enumerate(specs):
                r = client.get(f"/api/alerts/p-{i}", headers=headers)
                in_area = "all" in areas or bool(set(area_ids) & set(areas))
                expect = in_area and releasable(markings[-1], frozenset({nation}))
                assert (r.status_code == 200) == expect, (markings, area_ids, r.text)
                assert (f"p-{i}" in listed) == expect
                if r.status_code == 200:
                    for rev in r.json()["revisions"]:
                        assert nation in parse_label(rev["releasability"])
