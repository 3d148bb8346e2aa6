"""The dead-letter index: every record's filterable facts in memory, the record itself in the stream.

Each replica reads the whole DLQ stream with an ordered consumer, so any replica can answer any
query; full records are read back from the stream by sequence. Replayed/discarded state lives in a
KV bucket that every replica watches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from services.deadletter.filters import Filter, parse_timestamp
from shared.deadletters import DeadLetter, dead_letter_decoder


class Status(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What was done to a dead letter. A replay records what it sent, so a repeat can be recognised."""

    status: str  # replayed | discarded
    at: str
    replay_subject: str | None = None
    by: str | None = None
    event_id: str | None = None        # the id the replay carried (a new one for an edited replay)
    destination: str | None = None     # set when replayed to another destination
    edited: bool = False
    fingerprint: str | None = None     # of the replay request: the same request again is answered, not redone


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
    at: float  # last_failure as seconds since the epoch, for time-range filters

    def facts(self) -> dict[str, str]:
        return {"stage": self.stage, "reason": self.reason, "source": self.source,
                "destination": self.destination, "type": self.type, "event_id": self.event_id}


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
        try:
            at = parse_timestamp(letter.last_failure)
        except ValueError:
            at = 0.0
        self.by_id[letter.id] = IndexEntry(letter.id, seq, letter.event_id, letter.stage, letter.reason,
                                           letter.source, letter.destination or "", letter.type,
                                           letter.last_failure, at)
        self.order.append(letter.id)
        return letter

    def remove(self, letter_id: str) -> None:
        if self.by_id.pop(letter_id, None) is not None:
            self.order.remove(letter_id)

    def status_of(self, letter_id: str) -> str:
        status = self.statuses.get(letter_id)
        return status.status if status else "pending"

    def prune(self, first_seq: int) -> int:
        """Forget entries the stream no longer holds (expired by age or count). Returns how many."""
        gone = [i for i in self.order if self.by_id[i].seq < first_seq]
        for letter_id in gone:
            del self.by_id[letter_id]
        if gone:
            self.order = [i for i in self.order if i in self.by_id]
        return len(gone)

    def query(self, flt: Filter, *, limit: int, before_seq: int | None) -> tuple[list[IndexEntry], int | None]:
        """Newest first; `before_seq` continues a page. Returns (entries, next cursor or None)."""
        out: list[IndexEntry] = []
        for letter_id in reversed(self.order):
            entry = self.by_id[letter_id]
            if before_seq is not None and entry.seq >= before_seq:
                continue
            if not self._matches(entry, flt):
                continue
            if len(out) == limit:
                return out, out[-1].seq
            out.append(entry)
        return out, None

    def select(self, flt: Filter, *, limit: int) -> list[IndexEntry]:
        """The oldest `limit` matches, oldest first: the order a bulk replay sends them in."""
        out: list[IndexEntry] = []
        for letter_id in self.order:
            entry = self.by_id[letter_id]
            if self._matches(entry, flt):
                out.append(entry)
                if len(out) == limit:
                    break
        return out

    def _matches(self, entry: IndexEntry, flt: Filter) -> bool:
        status = flt.exact.get("status")
        if status is not None and self.status_of(entry.id) != status:
            return False
        facts = entry.facts()
        facts["status"] = status or ""
        return flt.matches(facts, entry.at)

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
        if status.status == "replayed":
            out["replay"] = {k: v for k, v in (("subject", status.replay_subject), ("event_id", status.event_id),
                                                ("destination", status.destination), ("edited", status.edited))
                             if v is not None}
    return out
