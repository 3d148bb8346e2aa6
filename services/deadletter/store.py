"""The dead-letter index: every record's filterable facts in memory, the record itself in the stream.

Each replica reads the whole DLQ stream with an ordered consumer, so any replica can answer any
query; full records are read back from the stream by sequence. Replayed/discarded state lives in a
KV bucket that every replica watches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from shared.deadletters import DeadLetter, dead_letter_decoder

FILTERS = ("stage", "reason", "source", "destination", "type", "status")


class Status(msgspec.Struct, kw_only=True, omit_defaults=True):
    status: str  # replayed | discarded
    at: str
    replay_subject: str | None = None
    by: str | None = None


status_decoder = msgspec.json.Decoder(Status)


@dataclass
class IndexEntry:
    id: str
    seq: int
    event_id: str
    stage: str
    reason: str
    source: str
    destination: str
    type: str
    last_failure: str

    def facts(self) -> dict[str, str]:
        return {"stage": self.stage, "reason": self.reason, "source": self.source,
                "destination": self.destination, "type": self.type}


class DeadLetterIndex:
    def __init__(self) -> None:
        self.by_id: dict[str, IndexEntry] = {}
        self.order: list[str] = []  # ids, oldest first (stream order)
        self.statuses: dict[str, Status] = {}

    def add(self, seq: int, data: bytes) -> DeadLetter | None:
        try:
            letter = dead_letter_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        if letter.id in self.by_id:
            return letter
        self.by_id[letter.id] = IndexEntry(letter.id, seq, letter.event_id, letter.stage, letter.reason,
                                           letter.source, letter.destination or "", letter.type,
                                           letter.last_failure)
        self.order.append(letter.id)
        return letter

    def remove(self, letter_id: str) -> None:
        if self.by_id.pop(letter_id, None) is not None:
            self.order.remove(letter_id)

    def status_of(self, letter_id: str) -> str:
        status = self.statuses.get(letter_id)
        return status.status if status else "pending"

    def query(self, filters: dict[str, str], *, limit: int, before_seq: int | None) -> tuple[list[IndexEntry],
                                                                                           int | None]:
        """Newest first; `before_seq` continues a page. Returns (entries, next cursor or None)."""
        out: list[IndexEntry] = []
        for letter_id in reversed(self.order):
            entry = self.by_id[letter_id]
            if before_seq is not None and entry.seq >= before_seq:
                continue
            if not self._matches(entry, filters):
                continue
            if len(out) == limit:
                return out, out[-1].seq
            out.append(entry)
        return out, None

    def _matches(self, entry: IndexEntry, filters: dict[str, str]) -> bool:
        facts = entry.facts()
        for key, wanted in filters.items():
            if key == "status":
                if self.status_of(entry.id) != wanted:
                    return False
            elif facts.get(key) != wanted:
                return False
        return True

    def counts(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for entry in self.by_id.values():
            key = (entry.reason, self.status_of(entry.id))
            out[key] = out.get(key, 0) + 1
        return out


def present(letter: DeadLetter, status: Status | None) -> dict[str, Any]:
    """A dead letter as the API shows it: the record plus its status."""
    out: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(letter))
    out["status"] = status.status if status else "pending"
    if status:
        out["status_at"] = status.at
    return out
