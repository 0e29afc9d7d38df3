"""The supervisor's process handling, on real child processes that we script.

These children stand in for nothing vLLM-specific: they flood pipes, fork grandchildren and
ignore SIGTERM, which is what the supervisor must survive whatever the server is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from engine.events import ExitEvent, ServerState, SupervisorEvent
from engine.launch import LaunchSpec
from engine.loglines import ENGINE_DIED_CAUSE
from engine.supervisor import Supervisor
from tests.helpers import free_port, wait_until


def _child(tmp_path: Path, body: str) -> LaunchSpec:
    """A LaunchSpec whose "python" is a script that runs `body` and ignores vLLM's arguments."""
    script = tmp_path / "child.py"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return LaunchSpec(model="unused", python=str(script), port=free_port())


# A scripted server that answers /health with 200, waits until the supervisor has seen it ready
# (a loaded machine starts it late), then lets a second pass: what follows runs between probes.
READY_SERVER = """
import http.server, os, signal, sys, threading, time
probed = threading.Event()
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); probed.set()
    def log_message(self, *args):
        pass
port = int(sys.argv[sys.argv.index("--port") + 1])
server = http.server.HTTPServer(("127.0.0.1", port), Health)
threading.Thread(target=server.serve_forever, daemon=True).start()
probed.wait(60)
time.sleep(1.0)
"""


def _runner(tmp_path: Path, spec: LaunchSpec, reaper_grace: float | None = None) -> Path:
    """A script that supervises `spec` and then sleeps: the vllm-top a test can SIGKILL.
    With a reaper of its own it prints the reaper's pid first."""
    reaper = f"Reaper(grace={reaper_grace})" if reaper_grace is not None else "None"
    runner = tmp_path / "runner.py"
    runner.write_text(
        textwrap.dedent(
            f"""
            import time
            from pathlib import Path
            from engine.launch import LaunchSpec
            from engine.reaper import Reaper
            from engine.supervisor import Supervisor
            spec = LaunchSpec(model="unused", python={spec.python!r}, port={spec.port})
            reaper = {reaper}
            Supervisor(spec, log_dir=Path({str(tmp_path / "logs")!r}), reaper=reaper).start()
            if reaper is not None:
                print(reaper.pid, flush=True)
            time.sleep(600)
            """
        )
    )
    return runner


def _gone(p: psutil.Process) -> bool:
    return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE


def test_every_line_of_a_flood_reaches_the_log_file(tmp_path: Path) -> None:
    spec = _child(
        tmp_path,
        """
        import sys
        for i in range(100_000):
            out = sys.stderr if i % 3 == 0 else sys.stdout
            out.write(f"line {i} 你好 " + "x" * (i % 50) + "\\n")
        sys.stdout.write("last line without newline")
        """,
    )
    events: list[SupervisorEvent] = []
    sup = Supervisor(spec, log_dir=tmp_path / "logs", listener=events.append, buffer_lines=1000)
    sup.start()
    report = sup.wait_exit(60)
    assert report is not None and report.returncode == 0
    assert sup.log_path is not None
    written = sup.log_path.read_text(encoding="utf-8").splitlines()
    assert len(written) == 100_001
    numbered = sorted(int(line.split()[1]) for line in written if line.startswith("line "))
    assert numbered == list(range(100_000))
    assert "last line without newline" in written
    # Memory stays bounded however much the server prints.
    assert len(sup.buffer) == 1000 and sup.buffer.total == 100_001
    assert sup.state is ServerState.EXITED
    assert isinstance(events[-1], ExitEvent)


def test_stop_takes_down_grandchildren_and_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    spec = _child(
        tmp_path,
        """
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # A grandchild in the same group, like vLLM's EngineCore.
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print("up", flush=True)
        time.sleep(600)
        """,
    )
    sup = Supervisor(spec, log_dir=tmp_path / "logs")
    sup.start()
    assert wait_until(lambda: sup.buffer.total >= 1, 30)
    assert sup.pid is not None
    tree = [psutil.Process(sup.pid), *psutil.Process(sup.pid).children(recursive=True)]
    assert len(tree) == 2
    report = sup.stop(grace=1.0)
    assert report.killed_after_grace
    assert report.returncode == -signal.SIGKILL
    assert not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert sup.alive_tree() == []
    assert sup.state is ServerState.STOPPED


def test_a_server_that_dies_at_start_reports_its_cause(tmp_path: Path) -> None:
    spec = _child(
        tmp_path,
        """
        import sys
        print("(APIServer pid=1) INFO 11-21 10:00:00 [api_utils.py:286] non-default args: {}")
        sys.stderr.write("Traceback (most recent call last):\\n")
        sys.stderr.write('  File "launcher.py", line 1, in serve\\n')
        sys.stderr.write("OSError: [Errno 98] Address already in use\\n")
        sys.exit(1)
        """,
    )
    sup = Supervisor(spec, log_dir=tmp_path / "logs")
    sup.start()
    assert sup.wait_ready(30) is ServerState.EXITED
    report = sup.wait_exit(30)
    assert report is not None
    assert report.returncode == 1 and not report.stopped_by_us
    assert report.cause == "OSError: [Errno 98] Address already in use"
    assert report.describe() == (
        "vLLM exited with code 1: OSError: [Errno 98] Address already in use"
    )


def test_a_ready_server_killed_by_a_signal_is_seen_within_a_second(tmp_path: Path) -> None:
    """Between /health probes (2 s apart once ready) the supervisor still sees an exit at once."""
    died_file = tmp_path / "died"
    spec = _child(
        tmp_path,
        READY_SERVER
        + textwrap.dedent(
            f"""
            open({str(died_file)!r}, "w").write(repr(time.time()))
            os.kill(os.getpid(), signal.SIGKILL)
            """
        ),
    )
    seen: list[tuple[SupervisorEvent, float]] = []
    sup = Supervisor(
        spec, log_dir=tmp_path / "logs", listener=lambda e: seen.append((e, time.time()))
    )
    sup.start()
    assert sup.wait_ready(20) is ServerState.READY
    report = sup.wait_exit(20)
    assert report is not None and report.returncode == -signal.SIGKILL
    exits = [t for e, t in seen if isinstance(e, ExitEvent)]
    assert exits and exits[0] - float(died_file.read_text()) < 1.0
    assert "code -9 (signal 9)" in report.describe()


def test_an_engine_death_is_named_even_under_a_flood_of_errors(tmp_path: Path) -> None:
    """The death line, then 2,000 EngineDeadError lines in one write (400 requests in flight),
    then the exit: the cause is the death, read when it was seen, not the flood's last line."""
    fixture = Path(__file__).parent / "fixtures" / "vllm-0.32-cpu-engine-killed.log"
    spec = _child(
        tmp_path,
        READY_SERVER
        + textwrap.dedent(
            f"""
            lines = open({str(fixture)!r}).read().splitlines()
            flood = [ln for ln in lines if "EngineDeadError" in ln] * 1000
            sys.stderr.write("\\n".join(lines[:3] + flood) + "\\n")
            sys.stderr.flush()
            time.sleep(0.5)
            server.shutdown()
            """
        ),
    )
    sup = Supervisor(spec, log_dir=tmp_path / "logs")
    sup.start()
    assert sup.wait_ready(20) is ServerState.READY
    report = sup.wait_exit(20)
    assert report is not None and report.returncode == 0
    assert report.cause == ENGINE_DIED_CAUSE
    assert "EngineDeadError" in report.last_errors[-1]
    assert len(report.last_errors) == len(set(report.last_errors))


def test_the_server_dies_when_its_supervisor_is_killed(tmp_path: Path) -> None:
    """SIGKILL the supervising process: the parent-death signal still stops the server."""
    pid_file = tmp_path / "child.pid"
    spec = _child(
        tmp_path,
        f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(600)
        """,
    )
    runner = _runner(tmp_path, spec)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = psutil.Popen([sys.executable, str(runner)], env=env)
    try:
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text() != "", 30)
        child = psutil.Process(int(pid_file.read_text()))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert wait_until(
            lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, 10
        )
    finally:
        if proc.is_running():
            proc.kill()


def test_the_reaper_kills_a_tree_that_ignores_sigterm_when_the_supervisor_is_killed(
    tmp_path: Path,
) -> None:
    """The parent-death signal is a SIGTERM to the server alone. A server and a grandchild that
    both ignore it (a wedged engine core) are left to the reaper, which SIGKILLs the session."""
    pid_file = tmp_path / "pids"
    spec = _child(
        tmp_path,
        f"""
        import os, signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        grandchild = subprocess.Popen(
            [sys.executable, "-c", "import signal, time; "
             "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
        open({str(pid_file)!r}, "w").write(f"{{os.getpid()}} {{grandchild.pid}}")
        time.sleep(600)
        """,
    )
    runner = _runner(tmp_path, spec, reaper_grace=1.0)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = psutil.Popen([sys.executable, str(runner)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        reaper = psutil.Process(int(proc.stdout.readline()))
        assert wait_until(
            lambda: len(pid_file.read_text().split()) == 2 if pid_file.exists() else False, 30
        )
        tree = [psutil.Process(int(pid)) for pid in pid_file.read_text().split()]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert wait_until(lambda: all(_gone(p) for p in tree), 15), [p.status() for p in tree]
        assert wait_until(lambda: _gone(reaper), 5), "the reaper lingers after its work"
    finally:
        if proc.is_running():
            proc.kill()


def test_a_clean_stop_leaves_the_reaper_nothing_to_do(tmp_path: Path) -> None:
    from engine.reaper import Reaper

    spec = _child(tmp_path, "import time\ntime.sleep(600)\n")
    reaper = Reaper(grace=1.0)
    sup = Supervisor(spec, log_dir=tmp_path / "logs", reaper=reaper)
    sup.start()
    assert reaper.pid is not None
    watchdog = psutil.Process(reaper.pid)
    # Its own session: a hang-up or Ctrl-C sent to vllm-top's terminal does not reach it.
    assert os.getsid(watchdog.pid) == watchdog.pid != os.getsid(0)
    sup.stop(5)
    reaper.close()
    assert watchdog.wait(5) == 0


def test_detached_output_is_followed_from_the_log_file(tmp_path: Path) -> None:
    """--keep-server: the server writes into its log file itself, so it can outlive us."""
    spec = _child(
        tmp_path,
        """
        import sys
        for i in range(5000):
            (sys.stderr if i % 2 else sys.stdout).write(f"line {i}\\n")
        sys.stdout.flush()
        """,
    )
    sup = Supervisor(spec, log_dir=tmp_path / "logs", detach_output=True)
    sup.start()
    report = sup.wait_exit(30)
    assert report is not None and report.returncode == 0
    assert sup.log_path is not None
    # The child held the file itself: no pipe of ours would break when vllm-top exits.
    on_disk = sup.log_path.read_text().splitlines()
    assert sorted(int(line.split()[1]) for line in on_disk) == list(range(5000))
    # And the buffer saw every line by following the file.
    assert sup.buffer.total == 5000
    assert {ln.text for ln in sup.buffer.tail(5000)} == set(on_disk)


def test_a_ready_server_that_stops_answering_is_unresponsive_then_ready_again(
    tmp_path: Path,
) -> None:
    """SIGSTOP: the process lives and its socket takes connections, but /health never answers
    (as a deadlocked front end or a paused container). Seen within 5 s; SIGCONT heals it."""
    from engine.events import StateEvent

    spec = _child(tmp_path, READY_SERVER + "time.sleep(600)\n")
    seen: list[tuple[SupervisorEvent, float]] = []
    sup = Supervisor(
        spec, log_dir=tmp_path / "logs", listener=lambda e: seen.append((e, time.monotonic()))
    )
    sup.start()
    try:
        assert sup.wait_ready(20) is ServerState.READY
        assert sup.pid is not None
        os.kill(sup.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            assert wait_until(lambda: sup.state is ServerState.UNRESPONSIVE, 10)
            [(event, when)] = [
                (e, t)
                for e, t in seen
                if isinstance(e, StateEvent) and e.state is ServerState.UNRESPONSIVE
            ]
            assert when - stopped_at < 5.0, when - stopped_at
            assert isinstance(event, StateEvent) and event.detail.startswith("no answer to /health")
            silent = sup.silent_for()
            assert silent is not None and silent >= 3.0
        finally:
            os.kill(sup.pid, signal.SIGCONT)
        assert wait_until(lambda: sup.state is ServerState.READY, 10)
        assert sup.silent_for() is None
    finally:
        sup.stop(5)


def test_a_server_not_ready_in_time_is_stopped_and_says_why(tmp_path: Path) -> None:
    spec = _child(tmp_path, "import time\nprint('loading', flush=True)\ntime.sleep(600)\n")
    sup = Supervisor(spec, log_dir=tmp_path / "logs", startup_timeout=1.0, stop_grace=2.0)
    sup.start()
    report = sup.wait_exit(30)
    assert report is not None and report.failed and report.stopped_by_us
    assert report.not_ready_after_s == 1.0
    assert report.describe() == "vLLM was not ready after 1s (last phase: launching); stopped it"
    assert sup.state is ServerState.STOPPED
    assert sup.alive_tree() == []
