"""Helpers shared by the end-to-end tests: reading landing files back and Redis snapshots."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from hot import keys
from hot.ingest import EVENT_TYPES, SOURCES

ORDER = {s: i for i, s in enumerate(SOURCES)}


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _objects(path: Path) -> Iterable[dict[str, Any]]:
    for raw in path.read_bytes().split(b"\n"):
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(obj, dict):
            yield obj


def landing_files(landing: Path) -> list[Path]:
    """Landing files in processing order (catalogue first, by name within a folder)."""
    files = [p for s in SOURCES for p in (landing / s).glob("*.jsonl")]
    return sorted(files, key=lambda p: (ORDER[p.parent.name], p.name))


def accepted_input(landing: Path) -> dict[str, Any]:
    """What SPEC §2 accepts from the landing files, computed independently of the ingest."""
    events: dict[str, dict[str, Any]] = {}
    creators: dict[str, str] = {}
    decisions: dict[str, tuple[datetime, str]] = {}
    for path in landing_files(landing):
        for obj in _objects(path):
            source = path.parent.name
            if source == "videos" and obj.get("creator_id") and obj.get("title"):
                creators[obj["video_id"]] = obj["creator_id"]
            elif source == "moderation":
                decided = _parse_ts(obj["decided_at"])
                if obj["video_id"] not in decisions or decided >= decisions[obj["video_id"]][0]:
                    decisions[obj["video_id"]] = (decided, obj["status"])
            elif source == "events" and obj.get("type") in EVENT_TYPES:
                try:
                    obj["occurred_at"] = _parse_ts(obj["occurred_at"])
                except (ValueError, TypeError):
                    continue
                events.setdefault(obj["event_id"], obj)  # first seen wins
    return {
        "events": list(events.values()),
        "creators": creators,
        "statuses": {v: s for v, (_, s) in decisions.items()},
    }


def published(client: redis.Redis) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """``hot:global`` as {video: score} and the current snapshot's payloads."""
    ranked = {m.decode(): s for m, s in client.zrange(keys.GLOBAL, 0, -1, withscores=True)}
    sid = client.get(keys.CURRENT)
    assert sid is not None, "no snapshot published"
    raw_items = client.hgetall(keys.snapshot_items(sid.decode()))
    items = {k.decode(): json.loads(v) for k, v in raw_items.items()}
    return ranked, items
