"""The on-disk embedding cache."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from stance.encoders.cache import EmbeddingCache

from conftest import REPO, one_error_line, run_stance


def _vectors(n, dim=8, seed=0):
    return np.random.default_rng(seed).random((n, dim), dtype=np.float32)


def test_vectors_come_back_per_encoder(tmp_path):
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        texts = ["one", "two", "three"]
        vectors = _vectors(3)
        cache.put("enc-a", texts, vectors)
        got = cache.get("enc-a", ["two", "four", "one"])
        assert set(got) == {"one", "two"}
        np.testing.assert_array_equal(got["two"], vectors[1])
        assert cache.get("enc-b", texts) == {}  # another encoder never sees them
        info = cache.info()
        assert info["vectors"] == 3 and info["encoders"]["enc-a"]["bytes"] == 3 * 8 * 4
        assert cache.clear() == 3 and cache.info()["vectors"] == 0


def test_least_recently_used_vectors_are_evicted_beyond_the_bound(tmp_path):
    size = 8 * 4  # one vector's bytes
    with EmbeddingCache(tmp_path / "c.sqlite", max_bytes=10 * size) as cache:
        cache.put("e", [f"old{i}" for i in range(6)], _vectors(6))
        cache.get("e", ["old0"])  # used again: now the most recent of the old ones
        cache.put("e", [f"new{i}" for i in range(6)], _vectors(6, seed=1))
        kept = set(cache.get("e", [f"old{i}" for i in range(6)] + [f"new{i}" for i in range(6)]))
        assert cache.info()["bytes"] <= 10 * size
        assert {f"new{i}" for i in range(6)} <= kept and "old0" in kept
        assert not {"old1", "old2", "old3"} & kept
        cache.put("e", ["new0"], _vectors(1, dim=16))  # replaced by a longer vector
        assert _stored_total(cache) == cache.info()["bytes"] <= 10 * size
        cache.clear()
        assert _stored_total(cache) == 0


def _stored_total(cache) -> int:
    """The running byte total the bound is checked against."""
    return cache._conn.execute("SELECT bytes FROM total").fetchone()[0]


def test_a_cache_made_without_the_running_total_counts_it_once(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with EmbeddingCache(path) as cache:
        cache.put("e", ["a", "b"], _vectors(2))
    with sqlite3.connect(path) as conn:
        for trigger in ("total_insert", "total_delete", "total_update"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE total")
    with EmbeddingCache(path) as cache:
        assert _stored_total(cache) == 2 * 8 * 4
        cache.put("e", ["c"], _vectors(1))
        assert _stored_total(cache) == cache.info()["bytes"] == 3 * 8 * 4


WORKER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from stance.encoders.cache import EmbeddingCache
    worker = int(sys.argv[1])
    with EmbeddingCache(sys.argv[2]) as cache:
        for batch in range(30):
            texts = [f"w{worker}-{batch}-{i}" for i in range(20)]
            cache.put("e", texts, np.full((20, 4), worker, dtype=np.float32))
            cache.get("e", texts[:5])
    """
)


def test_concurrent_writers_keep_every_vector(tmp_path):
    path = tmp_path / "c.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(w), str(path)], cwd=REPO, stderr=subprocess.PIPE,
                              text=True) for w in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with EmbeddingCache(path) as cache:
        assert cache.info()["vectors"] == 4 * 30 * 20
        got = cache.get("e", ["w3-29-19", "w0-0-0"])
        assert got["w3-29-19"][0] == 3 and got["w0-0-0"][0] == 0


def test_cache_commands(tmp_path, isolated_home):
    env = {"STANCE_CACHE": str(tmp_path / "c.sqlite")}
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        cache.put("enc", ["a", "b"], _vectors(2))
    info = run_stance("cache", "info", env=env)
    assert info.returncode == 0 and "2 vectors" in info.stdout
    cleared = run_stance("cache", "clear", env=env)
    assert "removed 2 vectors" in cleared.stdout
    assert "0 vectors" in run_stance("cache", "info", env=env).stdout


@pytest.mark.integration
def test_a_second_encoder_reads_vectors_from_disk(tmp_path, monkeypatch):
    from stance.encoders.transformer import SentenceEncoder

    texts = ["Serbia buys Russian gas.", "Belgrade cancels Russian arms contracts."]
    first = SentenceEncoder(cache=tmp_path / "c.sqlite")
    expected = first.transform(texts)
    second = SentenceEncoder(cache=tmp_path / "c.sqlite")
    monkeypatch.setattr(SentenceEncoder, "encode_uncached", lambda self, t: pytest.fail(f"embedded again: {t}"))
    np.testing.assert_allclose(second.transform(texts), expected)
    off = SentenceEncoder(cache=False)
    with pytest.raises(pytest.fail.Exception):
        off.transform(texts)


def test_the_in_process_memo_stays_bounded(monkeypatch):
    from stance.encoders import transformer

    class Counting(transformer.SentenceEncoder):
        calls = 0

        def encode_uncached(self, texts):
            Counting.calls += len(texts)
            return np.ones((len(texts), 4), dtype=np.float32)

    monkeypatch.setattr(transformer, "MEMO_LIMIT", 10)
    encoder = Counting(cache=False)
    for start in range(0, 40, 5):
        encoder.transform([f"t{i}" for i in range(start, start + 5)])
    assert len(encoder.__dict__["_memo"]) <= 10 + 5
    encoder.transform(["t39"])  # still remembered: no new embedding
    assert Counting.calls == 40


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_cache_path_that_is_a_fifo_or_a_device_is_named_so_not_as_a_disk_error(tmp_path, kind):
    path = tmp_path / "fifo"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path = Path("/dev/null")
    for command in (["cache", "info"], ["cache", "clear"]):
        line = one_error_line(run_stance(*command, env={"STANCE_CACHE": str(path)}, timeout=60))
        assert f"is {'a FIFO' if kind == 'fifo' else 'a device or socket'}, not an embedding cache file" in line
    assert path.exists() and (kind != "fifo" or stat.S_ISFIFO(path.stat().st_mode))  # left as it was
