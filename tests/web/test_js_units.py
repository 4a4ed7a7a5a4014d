"""The console's pure modules (the SSE parser, formatting) run under Node when it is there.

The browser end-to-end tests cover the page as a whole; these pin the parts whose edge
cases a browser run would rarely meet: a frame split across reads, CRLF line ends,
comments and keep-alives, multi-line data.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from seawarden.web import STATIC_DIR

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

SCRIPT = """
import { SSEParser } from '%(js)s/sse.js';
import { levelRank, normLevel, relMinutes, latlon } from '%(js)s/format.js';
const out = {};
const whole = 'event: heartbeat\\ndata: {"time":"t"}\\n\\n: keep-alive\\n\\n'
  + 'event: alert\\r\\ndata: {"id":\\r\\ndata: "a1"}\\r\\n\\r\\n';
const p1 = new SSEParser();
out.whole = p1.feed(whole);
const p2 = new SSEParser();
out.split = [];
for (const ch of whole) out.split.push(...p2.feed(ch));
const p3 = new SSEParser();
out.idAndDefault = p3.feed('id: 7\\ndata: x\\n\\ndata:y\\n\\n');
out.levels = ['info', 'LOW', 'medium', 'high', 'critical', 'bogus', null].map(levelRank);
out.norm = normLevel('High');
out.rel = [12 * 60000, -3 * 60000, 20000, 65 * 60000].map(relMinutes);
out.pos = latlon(59.5, -1.25);
console.log(JSON.stringify(out));
"""


def test_sse_parser_and_formatting() -> None:
    assert NODE is not None
    script = SCRIPT % {"js": (STATIC_DIR / "js").as_uri()}
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = json.loads(done.stdout)
    expected = [
        {"event": "heartbeat", "data": '{"time":"t"}', "id": ""},
        {"event": "alert", "data": '{"id":\n"a1"}', "id": ""},
    ]
    assert out["whole"] == expected
    assert out["split"] == expected  # one character per read: same events
    assert out["idAndDefault"] == [
        {"event": "message", "data": "x", "id": "7"},
        {"event": "message", "data": "y", "id": "7"},
    ]
    assert out["levels"] == [0, 1, 2, 3, 4, 0, 0]
    assert out["norm"] == "high"
    assert out["rel"] == ["in 12 min", "3 min ago", "now", "in 1 h 05 min"]
    assert out["pos"] == "59.5000°N 1.2500°W"
