"""The Ray engine against a hostile world: a `kill` (SIGTERM) in the middle of a run, and a --ray-address
where something answers that is not Ray."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import REPO, one_error_line, run_stance, stance_script


def _table(path: Path, copies: int) -> Path:
    """Every labelled article ``copies`` times, each copy a text of its own (so that no cache shortens the run)."""
    articles = sorted((REPO / "labels" / "articles").glob("*.txt"))
    rows = [{"id": f"{p.stem}-{k}", "text": p.read_text(encoding="utf-8") + f"\nCopy {k}.\n"}
            for k in range(copies) for p in articles]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _processes_of(ray_tmp: Path) -> dict[int, str]:
    """The live processes (pid: command line) started with RAY_TMPDIR=ray_tmp: one run's raylet, GCS, workers..."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"RAY_TMPDIR={ray_tmp}".encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":  # dead, not yet reaped
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone, or another user's
            continue
    return found


def _as_from_a_terminal():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.integration
def test_sigterm_stops_a_ray_run_as_ctrl_c_does_keeping_what_came_back(trained, tmp_path):
    """ray.init replaced stance's SIGTERM handler: `kill` gave a C++ stack dump, exit 15, and nothing kept."""
    pytest.importorskip("ray")
    import pandas as pd

    if not Path("/proc/self/environ").exists():
        pytest.skip("no /proc here")
    copies = 60 * max(1, (os.cpu_count() or 2) - 1)  # one scoring actor a CPU but one: longer than its model's loading
    table, out = _table(tmp_path / "t.jsonl", copies), tmp_path / "out"
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray"))  # short: Ray's socket paths live under it
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAY_AUTH_MODE": "disabled", "STANCE_CACHE": "off",
           "RAY_TMPDIR": str(ray_tmp)}
    proc = subprocess.Popen([stance_script(), "score", table, "--engine", "ray", "--output", out, "--model",
                             trained["model"], "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, preexec_fn=_as_from_a_terminal)
    try:
        deadline = time.monotonic() + 180
        while not any(cmd.startswith("ray::MapWorker") for cmd in _processes_of(ray_tmp).values()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.5)
        raylets = [pid for pid, cmd in _processes_of(ray_tmp).items() if "raylet" in cmd.split(" ", 1)[0]]
        assert raylets  # the check for leftovers below looks where they would be
        assert proc.poll() is None, "the run ended before it could be stopped: " + proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "SIGTERM received" not in err, err
        last = err.strip().splitlines()[-1]  # Ray may log a line of its own first
        match = re.fullmatch(rf"error: interrupted after (\d+) articles; wrote (\d+) articles to {re.escape(str(out))}; "
                             r"run the same command again to finish .*", last)
        assert match and match[1] == match[2], err
        kept = int(match[1])  # on a slow machine nothing may have come back yet: then nothing is written either
        assert kept < copies * 93, err
        frame = pd.read_parquet(out) if any(out.glob("*.parquet")) else pd.DataFrame({"article": []})
        assert len(frame) == kept and frame["article"].is_unique
        deadline = time.monotonic() + 30  # ray.shutdown has sent them SIGTERM; give them a moment to go
        while (left := _processes_of(ray_tmp)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not left, left
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in _processes_of(ray_tmp):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.mark.integration
@pytest.mark.parametrize("what", ["a web server", "a port that accepts and says nothing"])
def test_a_ray_address_where_something_else_answers_is_refused_in_seconds(tmp_path, isolated_home, trained, what):
    """ray.init retried such an address for minutes, printing Ray's raw log lines (rpc_client, gcs_client)."""
    pytest.importorskip("ray")
    table = tmp_path / "t.jsonl"
    table.write_text(json.dumps({"id": "a", "text": "Serbia buys gas."}) + "\n", encoding="utf-8")
    if what == "a web server":
        server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port, stop = server.server_address[1], server.shutdown
    else:
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody reads
        port, stop = silent.getsockname()[1], silent.close
    try:
        started = time.monotonic()
        result = run_stance("score", table, "--engine", "ray", "--output", tmp_path / "out", "--model",
                            trained["model"], "--ray-address", f"127.0.0.1:{port}", timeout=90)
        took = time.monotonic() - started
    finally:
        stop()
    line = one_error_line(result)
    assert line == (f"error: --ray-address 127.0.0.1:{port}: answers, but not as a Ray cluster's head (GCS); "
                    "give the address `ray start --head` printed, in --ray-address or RAY_ADDRESS")
    assert took < 30 and "gcs_client" not in result.stderr and "rpc_client" not in result.stderr
    assert not (tmp_path / "out").exists()
