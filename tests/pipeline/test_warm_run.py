"""The run server (dagster_project/warm_run.py) and its dbt warm-up: what it compiles before
a run is known is everything a pass then uses, so a run compiles no macro template; it warms
up at low priority; it forks a process per run and reports how each ended."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dbt_common.clients.jinja import template_cache

from dagster_project.instance import ensure_dagster_home
from dagster_project.launcher import RunServer
from dagster_project.resources.dbt_inprocess import (
    compile_macro_templates,
    dbt_manifest,
    warm_dbt,
)
from dagster_project.runner import run_pipeline
from dagster_project.warm_run import WARM_UP_NICE
from hot.local.simulate import Simulator, build_world
from hot.settings import get_settings


def test_a_pass_after_the_warm_up_compiles_no_macro_template(hot_env: Path) -> None:
    ensure_dagster_home()
    sim = Simulator(hot_env / "landing", build_world(n_creators=20, videos_per_creator=3))
    sim.write_catalogue()
    sim.write_events(500)
    assert compile_macro_templates() == len(dbt_manifest().macros)
    warm_dbt()
    compiled = set(template_cache.file_cache)
    result = run_pipeline(quiet=True)
    assert result.success, result.error
    assert result.items > 0
    assert set(template_cache.file_cache) == compiled


def test_the_dbt_warm_up_leaves_the_warehouse_to_the_running_pass(hot_env: Path) -> None:
    """Spare run processes warm up while a pass in another process holds DuckDB's one
    writer lock: the warm-up must not open the warehouse (it would fail, or block the pass)."""
    path = get_settings().duckdb_path
    path.parent.mkdir(parents=True, exist_ok=True)
    hold = (
        f"import duckdb, sys; c = duckdb.connect({str(path)!r}); "
        "print('held', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        warm_dbt()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert holder.returncode == 0


def _thread_nice_values(pid: int) -> dict[int, int]:
    """Each thread's nice value by thread id (Linux: /proc/<pid>/task/<tid>/stat, field 19)."""
    values = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        values[int(task.name)] = int(stat[stat.rindex(")") + 2 :].split()[16])
    return values


def test_the_warm_up_yields_the_cpu_and_the_run_keeps_its_priority(hot_env: Path) -> None:
    """A replacement warms up beside the pass it was started for: its warm-up thread runs at
    the lowest priority, the main thread (which will execute the run) at the normal one."""
    ensure_dagster_home()
    warm = subprocess.Popen(
        [sys.executable, "-m", "dagster_project.warm_run"],
        stdin=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 60
        nice: dict[int, int] = {}
        while WARM_UP_NICE not in nice.values() and time.monotonic() < deadline:
            time.sleep(0.05)
            nice = _thread_nice_values(warm.pid)
        assert WARM_UP_NICE in nice.values()  # the warm-up thread
        assert nice[warm.pid] == os.getpriority(os.PRIO_PROCESS, 0)  # the main thread
    finally:
        assert warm.stdin is not None
        warm.stdin.close()  # no run: the process ends after its warm-up
        assert warm.wait(timeout=120) == 0


def test_a_run_handed_over_mid_warm_up_gets_the_warm_up_back_to_normal_priority(
    hot_env: Path,
) -> None:
    """The rest of the warm-up is then the run's own start-up (this machine's user may raise
    a thread's priority; elsewhere the warm-up finishes at nice 19)."""
    if os.geteuid() != 0 and resource.getrlimit(resource.RLIMIT_NICE)[0] < 20:
        pytest.skip("this user may not raise a thread's priority (CAP_SYS_NICE, RLIMIT_NICE)")
    ensure_dagster_home()
    warm = subprocess.Popen(
        [sys.executable, "-m", "dagster_project.warm_run"],
        stdin=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 60
        warming: list[int] = []
        while not warming and time.monotonic() < deadline:
            time.sleep(0.05)
            warming = [t for t, n in _thread_nice_values(warm.pid).items() if n == WARM_UP_NICE]
        assert warming
        assert warm.stdin is not None
        warm.stdin.write(b"a run\n")  # not a real run: the process fails after its warm-up
        warm.stdin.flush()
        while time.monotonic() < deadline:
            nice = _thread_nice_values(warm.pid).get(warming[0])
            if nice != WARM_UP_NICE:
                break
            time.sleep(0.02)
        assert nice == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        warm.kill()
        warm.wait(timeout=30)


def test_the_run_server_forks_a_process_per_run_and_reports_its_end(hot_env: Path) -> None:
    """Requests that are not runs: each child fails (exit 1) and the server serves the next;
    a malformed request is skipped; at the end of input it exits after its children."""
    ensure_dagster_home()
    server = RunServer()
    try:
        server.submit("first", b"not a run", 0)
        first = server.pid("first", 120)
        assert first is not None and first != server.proc.pid
        assert server.exit_code(first, 60) == 1
        assert server.proc.stdin is not None
        server.proc.stdin.write(b"no tabs here\n")  # malformed: skipped, not fatal
        server.submit("second", b"not a run either", 10)
        second = server.pid("second", 60)
        assert second is not None and second != first
        assert server.exit_code(second, 60) == 1
        assert server.serving
        server.retire()
        assert server.proc.wait(timeout=60) == 0
        assert server.pid("never sent", 0) is None
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


def test_a_run_another_process_launched_is_judged_by_the_pid_it_logged(tmp_path: Path) -> None:
    """Run monitoring in a process that did not launch the run (a restarted daemon): alive
    while the pid the run logged is; failed once it is gone; a run that logged none (run
    in-process, as `hot run` does) is left alone."""
    from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
    from dagster._core.events import EngineEventData

    from dagster_project._dagster_internals import WorkerStatus

    launcher = {"module": "dagster_project.launcher", "class": "WarmProcessRunLauncher"}
    with DagsterInstance.local_temp(str(tmp_path), overrides={"run_launcher": launcher}) as inst:
        run = inst.add_run(DagsterRun(job_name="hot_pipeline", status=DagsterRunStatus.STARTED))
        health = inst.run_launcher.check_run_worker_health
        assert health(run).status == WorkerStatus.RUNNING  # no pid logged: not ours to judge
        ended = subprocess.Popen([sys.executable, "-c", "pass"])
        ended.wait()
        inst.report_engine_event("Started process", run, EngineEventData.in_process(ended.pid))
        assert health(run).status == WorkerStatus.FAILED
        other = inst.add_run(DagsterRun(job_name="hot_pipeline", status=DagsterRunStatus.STARTED))
        inst.report_engine_event("Started process", other, EngineEventData.in_process(os.getpid()))
        assert health(other).status == WorkerStatus.RUNNING
