"""docs/operations.md's "What NATS holds" names every stream and bucket the code provisions."""

from __future__ import annotations

from pathlib import Path

from shared.streams import BUCKETS, STREAMS

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_every_stream_and_bucket_is_documented_with_its_subjects() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    section = text[text.index("## What NATS holds"):]
    section = section[:section.index("\n## ", 1)]
    for spec in STREAMS:
        assert f"| `{spec.name}` | `{', '.join(spec.subjects)}` |" in section, spec.name
    for bucket, *_ in BUCKETS:
        assert f"| `{bucket}` |" in section, bucket
