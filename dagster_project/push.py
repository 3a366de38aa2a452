"""The push path: a pass requested the moment input arrives, not at a sensor's next tick.

Polling costs a landed file the daemon's sensor loop (about 5 s between ticks) before its pass
is even queued. Dagster's alternative to polling is to push: a run submitted through the
webserver's GraphQL API (``dagster-graphql``'s client) when the input arrives. The watcher
(``hot watch``, started by ``hot demo``) stands in for an object store's notifications: it
watches the landing zone with inotify (``watchfiles``) and, with ``HOT_EVENTS_SOURCE=kafka``,
the topic's end offsets, and submits a pass of ``hot_pipeline`` (tag ``hot/trigger=push``)
when something new is there and no pass is waiting in the queue. A pass waiting reads that
input when it starts; a pass running and new input make exactly one more pass, queued behind.

The sensors stay: the safety net (a watcher down, a push refused, a pass that failed) and
what the UI shows. Nothing is ingested twice when both fire: a pass ingests every pending
file and each Kafka range from the ledger's end, one pass at a time (the pass lane), and the
ledger refuses a file or a range already there. Nor do they request twice: a pushed run
carries what it covers (``hot/covers_ctime_ns``, ``kafka_ends``), which the sensors read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import watchfiles
from dagster import DagsterInstance
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from dagster_project.lanes import COVERS_TAG, PIPELINE_JOB, TRIGGER_TAG
from dagster_project.sensors.runs import WAITING, requested_kafka_ends, run_in
from hot.ingest import SOURCES, is_landing_file
from hot.settings import Settings

KAFKA_POLL_SEC = 0.2
"""How often the topic's end offsets are read (one admin request per partition set)."""
RETRY_SEC = 1.0
"""How soon a push the webserver did not take (not up yet, restarting) is tried again."""

Log = Callable[[str], object]


class Pusher:
    """Submits passes through the Dagster webserver's GraphQL API, never one while another
    waits in the queue (it will read the same input when it starts)."""

    def __init__(self, instance: DagsterInstance, client: DagsterGraphQLClient, log: Log) -> None:
        self.instance = instance
        self.client = client
        self.log = log
        self._lock = threading.Lock()  # the files and the topic watches share it

    def push(self, what: str, config: Mapping[str, Any], tags: Mapping[str, str]) -> str | None:
        """Submit a pass for ``what`` with ``config`` (the ingest step's) and ``tags``; its run
        id, or ``None`` when a pass already waits. Raises ``DagsterGraphQLClientError`` when
        the webserver does not take it."""
        with self._lock:
            if run_in(self.instance, PIPELINE_JOB, WAITING):
                return None
            run_id = self.client.submit_job_execution(
                PIPELINE_JOB,
                run_config={"ops": {"landing_files": {"config": dict(config)}}},
                tags={**tags, TRIGGER_TAG: "push"},
            )
        self.log(f"pushed pass {run_id[:8]} for {what}")
        return run_id


def _landed(change: watchfiles.Change, path: str) -> bool:
    """A file renamed into a landing folder (or written there): not a temp or hidden one."""
    return change != watchfiles.Change.deleted and is_landing_file(Path(path))


def watch_landing(pusher: Pusher, landing_dir: Path, stop: threading.Event) -> None:
    """Push a pass whenever landing files arrive, until ``stop`` is set."""
    landing_dir = landing_dir.resolve()  # the watch reports absolute paths
    folders = [landing_dir / source for source in SOURCES]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    owed: list[str] = []  # files a refused push still owes a pass
    for changes in watchfiles.watch(
        *folders,
        watch_filter=_landed,
        debounce=200,  # a burst of files is one push
        step=10,
        stop_event=stop,
        rust_timeout=int(RETRY_SEC * 1000),
        yield_on_timeout=True,
        recursive=False,
    ):
        names = owed + sorted(
            {Path(path).relative_to(landing_dir).as_posix() for _, path in changes}
        )
        if not names:
            continue
        # Taken before the submit: every file that changed is older, and the pass will see
        # it when it starts.
        covers = str(time.time_ns())
        try:
            pusher.push(f"{len(names)} file(s)", {"files": names[:100]}, {COVERS_TAG: covers})
            owed = []
        except DagsterGraphQLClientError as exc:
            pusher.log(f"push refused, trying again in {RETRY_SEC:.0f} s: {_first_line(exc)}")
            owed = names


def watch_topic(pusher: Pusher, settings: Settings, stop: threading.Event) -> None:
    """Push a pass whenever the topic's end offsets move past those already requested, until
    ``stop`` is set."""
    from hot import kafka  # the kafka extra is needed only when Kafka is the source

    admin = kafka.admin_client(settings.kafka_bootstrap)
    # What passes were asked for already (failed ones included: the sensor's safety net
    # retries those from the ledger).
    pushed = requested_kafka_ends(pusher.instance, statuses=None)
    while not stop.wait(KAFKA_POLL_SEC):
        try:
            state = kafka.topic_state(settings.kafka_bootstrap, settings.kafka_topic, admin=admin)
        except (kafka.UnknownTopicError, kafka.KafkaUnavailableError):
            continue  # not created yet, or the broker is away: the next poll asks again
        ends = {p: high for p, (_, high) in state.offsets.items()}
        if all(high <= pushed.get(p, low) for p, (low, high) in state.offsets.items()):
            continue
        # The ends seen now tell the sensor what this pass covers; the pass itself reads each
        # partition from the ledger's end to its end when the pass starts (SPEC §2b's tick is
        # then the pass's start), so what arrives while it is queued is not left to the next.
        try:
            config = {
                "kafka_ends": {str(p): end for p, end in ends.items()},
                "kafka_read_to_end": True,
            }
            new = sum(
                high - max(pushed.get(p, low), low) for p, (low, high) in state.offsets.items()
            )
            if pusher.push(f"{new} message(s)", config, {}):
                pushed = ends
        except DagsterGraphQLClientError as exc:
            pusher.log(f"push refused, trying again: {_first_line(exc)}")
            stop.wait(RETRY_SEC)


def _first_line(exc: BaseException) -> str:
    """The error in one line: what the client's wrapper wraps, when it wraps something."""
    cause = exc.__cause__ or exc
    return f"{type(cause).__name__}: " + (str(cause).splitlines() or [""])[0]


def run_watcher(
    settings: Settings, host: str, port: int, stop: threading.Event, log: Log
) -> list[threading.Thread]:
    """Start the watches of ``settings``' sources (the landing zone; the topic too with
    ``HOT_EVENTS_SOURCE=kafka``), pushing to the webserver at ``host:port``; they run in
    daemon threads until ``stop`` is set."""
    pusher = Pusher(DagsterInstance.get(), DagsterGraphQLClient(host, port_number=port), log)
    watches: list[threading.Thread] = [
        threading.Thread(
            target=watch_landing, args=(pusher, settings.landing_dir, stop), name="watch-landing"
        )
    ]
    if settings.events_source == "kafka":
        watches.append(
            threading.Thread(target=watch_topic, args=(pusher, settings, stop), name="watch-topic")
        )
    for watch in watches:
        watch.daemon = True
        watch.start()
    return watches
