"""Speed benchmark: prints a Markdown table (and writes it with --out FILE.md).

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/bench.py [--out experiments/bench.md]

Run from the repository root. Measures, on the same sentences (every line of
seeds/ and labels/articles/, repeated with a prefix so that no two are equal):
the raw encoder (SentenceEncoder.encode_uncached), the whole scoring pipeline
(splitting, encoding, heads, result objects; embeddings memo cleared) with
MiniLM, with MiniLM run by PyTorch in bfloat16 (``--backend torch-bf16``), by
onnxruntime (``--backend onnx``) and quantized to
int8 ONNX (both when ``onnx`` and ``onnxruntime`` are installed; see
experiments/quantized.py), with the static model, and a
re-score from the embedding cache; then a million-sentence table (one sentence
a line) and a smaller one with three sentences a line, and the wall
time of `stance score` on one article from a cold process, `stance --help` and
`stance train`. Speed targets live here, not in unit tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STANCE = str(Path(sys.executable).with_name("stance"))


def corpus(copies: int) -> list[str]:
    """Article texts, one segment a line, each prefixed per copy so that no sentence repeats."""
    from stance.segment import read_article

    files = sorted((REPO / "seeds").glob("*.txt")) + sorted((REPO / "labels" / "articles").glob("*.txt"))
    articles = [read_article(p) for p in files]
    return ["\n".join(f"[{c}] {s.text}" for s in a.segments) for c in range(copies) for a in articles]


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def wall(args: list[str], n: int, **extra_env: str) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **extra_env}
    return best_of(n, lambda: subprocess.run([STANCE, *args], cwd=REPO, env=env, check=True, capture_output=True))


def _letters(number: int) -> str:
    """A number written in letters (0 -> a, 26 -> ba): keeps sentences distinct without adding dates."""
    out = ""
    while True:
        number, digit = divmod(number, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[digit] + out
        if number == 0:
            return out


def large_table(tmp: Path, sentences: list[str], total: int, per_line: int = 1) -> tuple[float, int]:
    """Score a generated table of ``total`` sentences (10 per article); wall seconds and peak RSS bytes.

    Rows have no date column, so each article's opening lines are searched for a
    date. With ``per_line`` above 1 the sentences stand in paragraphs, as in most
    articles, and lines go through the sentence splitter instead of skipping it.
    """
    import json

    path = tmp / f"large-{per_line}.jsonl"
    per_article = 10
    with open(path, "w", encoding="utf-8") as handle:
        for a in range(total // per_article):
            tagged = [f"{sentences[(a * per_article + k) % len(sentences)].rstrip('.')} ({_letters(a)} {k})."
                      for k in range(per_article)]
            lines = [" ".join(tagged[k : k + per_line]) for k in range(0, per_article, per_line)]
            handle.write(json.dumps({"id": f"a{a}", "text": "\n".join(lines)}) + "\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "STANCE_CACHE": "off"}
    start = time.perf_counter()
    proc = subprocess.Popen([STANCE, "score", str(path), "--model", str(tmp / "static-model"), "--output",
                             str(tmp / f"large-results-{per_line}"), "--quiet"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"large-table run failed: {proc.stderr.read().decode()[-500:]}")
    return seconds, usage.ru_maxrss * 1024


def onnx_models(tmp: Path, model_dir: Path):
    """The trained model run by onnxruntime (``--backend onnx``) and with its graph in int8; Nones without onnx."""
    if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        return None, None
    from quantized import Int8Encoder

    from stance.model import load_model

    return load_model(model_dir, backend="onnx"), load_model(model_dir, encoder=Int8Encoder(work=tmp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    parser.add_argument("--copies", type=int, default=4, help="copies of the corpus to score (default 4)")
    parser.add_argument("--paragraphs", type=int, default=100_000, metavar="N",
                        help="sentences in a second table, three per line (default 100,000; 0 skips it)")
    parser.add_argument("--million", type=int, default=1_000_000, metavar="N",
                        help="sentences in the large-table run, scored with the static model (0 skips it)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from stance.encoders.bf16 import cpu_has_bf16
    from stance.model import load_model
    from stance.persist import package_versions
    from stance.scoring import score_articles
    from stance.segment import Article

    tmp = Path(tempfile.mkdtemp(prefix="stance-bench-"))
    os.environ["STANCE_CACHE"] = str(tmp / "cache.sqlite")  # a fresh embedding cache, not the user's
    os.environ["STANCE_HOME"] = str(tmp / "home")  # and a fresh ONNX export
    train_s = wall(["train", "--frozen", "--out", str(tmp / "model"), "--report-dir", str(tmp / "report")], 1)
    tuned_train_s = wall(["train", "--fine-tune", "--out", str(tmp / "tuned-model"),
                          "--report-dir", str(tmp / "tuned-report")], 1)
    model = load_model(tmp / "model", backend="torch")
    texts = corpus(args.copies)
    sentences = [s.text for t in texts for s in Article.from_text(t).sentences]
    n = len(sentences)
    encoder = model.encoder_
    encoder.encode_uncached(sentences[:64])  # warm-up

    raw_s = best_of(3, lambda: encoder.encode_uncached(sentences))

    def pipeline(scorer=model):
        scorer.encoder_.__dict__.pop("_memo", None)
        articles = [Article.from_text(t, id=str(i)) for i, t in enumerate(texts)]
        return score_articles(scorer, articles)

    encoder.cache = False
    pipe_s = best_of(3, pipeline)
    bf16 = load_model(tmp / "model", backend="torch-bf16")
    bf16.encoder_.cache = False
    pipeline(bf16)  # loads the model
    bf16_s = best_of(3, lambda: pipeline(bf16))
    onnx, quantized = onnx_models(tmp, tmp / "model")
    missing = ("-", "sentences/s", "not measured: needs `pip install 'stance[onnx]'`")
    onnx_row = ("ONNX pipeline (`--backend onnx`, fp32)", *missing)
    quantized_row = ("quantized pipeline (MiniLM int8 ONNX, same heads)", *missing)
    onnx_cold_rows = []
    if onnx is not None:
        onnx.encoder_.cache = False
        pipeline(onnx)  # exports the graph once, loads the session
        onnx_s = best_of(3, lambda: pipeline(onnx))
        pipeline(quantized)  # quantizes the graph, loads the session
        quantized_s = best_of(3, lambda: pipeline(quantized))
        onnx_row = (onnx_row[0], f"{n / onnx_s:.0f}", "sentences/s",
                    f"{pipe_s / onnx_s:.1f}x the MiniLM pipeline, same vectors to 1e-6")
        quantized_row = (quantized_row[0], f"{n / quantized_s:.0f}", "sentences/s",
                         f"{pipe_s / quantized_s:.1f}x the MiniLM pipeline; not shipped: it changes more labels "
                         "than bfloat16 (experiments/quantized.md)")
        seed_args = ["score", "seeds/000_abad3842fbdbf470.txt", "--model", str(tmp / "model")]
        onnx_cold_rows = [
            ("`stance score` one article, cold process (default backend: onnxruntime)",
             f"{wall(seed_args, 3, STANCE_CACHE='off'):.2f}", "s",
             "best of 3, embedding cache off; torch is not imported (target < 3 s)"),
            ("the same, fine-tuned model", f"{wall(seed_args[:-1] + [str(tmp / 'tuned-model')], 3, STANCE_CACHE='off'):.2f}",
             "s", "best of 3, embedding cache off; graph exported by `stance train`"),
        ]
    encoder.cache = tmp / "rescore-cache.sqlite"
    pipeline()  # fills the on-disk cache
    cached_s = best_of(3, pipeline)  # in-process memo emptied each time: vectors come from disk
    os.environ["STANCE_STATIC"] = str(tmp / "static-minilm")
    distill_s = wall(["distill"], 1)
    static_train_s = wall(["train", "--encoder", "static", "--out", str(tmp / "static-model"),
                           "--report-dir", str(tmp / "static-report")], 1)
    static_model = load_model(tmp / "static-model")
    static_model.encoder_.cache = False
    pipeline(static_model)  # loads the table
    static_s = best_of(5, lambda: pipeline(static_model))
    large_rows = []
    if args.million:
        seconds, peak = large_table(tmp, sentences, args.million)
        large_rows = [
            (f"`stance score` of a {args.million:,}-sentence table, static model, `--output`",
             f"{args.million / seconds:.0f}", "sentences/s", f"{seconds:.0f} s wall, embedding cache off"),
            ("peak memory of that run", f"{peak / 2**30:.2f}", "GiB", "max RSS of the process (target < 2 GiB)"),
        ]
    if args.paragraphs:
        seconds, peak = large_table(tmp, sentences, args.paragraphs, per_line=3)
        large_rows.append((f"the same for a {args.paragraphs:,}-sentence table, three sentences per line",
                           f"{args.paragraphs / seconds:.0f}", "sentences/s",
                           f"{seconds:.0f} s wall, peak {peak / 2**30:.2f} GiB; every line through the splitter"))
    rows = [
        ("raw encoder (MiniLM, batch 64)", f"{n / raw_s:.0f}", "sentences/s", f"{n} sentences"),
        ("score pipeline (split + encode + heads)", f"{n / pipe_s:.0f}", "sentences/s",
         f"{raw_s / pipe_s:.0%} of raw encoder (target >= 90%)"),
        ("bfloat16 pipeline (`--backend torch-bf16`)", f"{n / bf16_s:.0f}", "sentences/s",
         f"{pipe_s / bf16_s:.1f}x the MiniLM pipeline; vectors and labels against fp32: experiments/quantized.md"),
        onnx_row,
        quantized_row,
        ("cached re-score (vectors from the on-disk cache)", f"{n / cached_s:.0f}", "sentences/s",
         f"{pipe_s / cached_s:.0f}x uncached (target >= 20x)"),
        ("static pipeline (model2vec from MiniLM, same heads)", f"{n / static_s:.0f}", "sentences/s",
         f"{pipe_s / static_s:.0f}x the MiniLM pipeline (target >= 50x)"),
        ("`stance score` one article, cold process, `--backend torch`",
         f"{wall(['score', 'seeds/000_abad3842fbdbf470.txt', '--model', str(tmp / 'model'), '--backend', 'torch'], 3, STANCE_CACHE='off'):.2f}",
         "s", "best of 3, embedding cache off"),
        ("`stance score` one article, cold process, static model",
         f"{wall(['score', 'seeds/000_abad3842fbdbf470.txt', '--model', str(tmp / 'static-model')], 3, STANCE_CACHE='off'):.2f}",
         "s", "best of 3, embedding cache off"),
        *onnx_cold_rows,
        *large_rows,
        ("`stance --help`", f"{wall(['--help'], 5):.3f}", "s", "best of 5"),
        ("`stance train --frozen` (labels/, evaluation included)", f"{train_s:.1f}", "s", "once"),
        ("`stance train --fine-tune` (labels/, evaluation included)", f"{tuned_train_s:.1f}", "s",
         "once (target <= 900 s)"),
        ("`stance distill` (static model from the bundled MiniLM)", f"{distill_s:.1f}", "s", "once"),
        ("`stance train --encoder static`", f"{static_train_s:.1f}", "s", "once, after `stance distill`"),
    ]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    versions = ", ".join(f"{k} {v}" for k, v in package_versions().items() if v)
    lines = [
        "| measure | value | unit | notes |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        f"Machine: {os.cpu_count()} cores, {cpu}; torch threads {torch.get_num_threads()}; bfloat16 in hardware "
        f"(AMX or AVX-512 BF16): {'yes' if cpu_has_bf16() else 'no'}. {versions}.",
        f"Command: `{' '.join(['python', 'experiments/bench.py', *sys.argv[1:]])}`.",
    ]
    table = "\n".join(lines) + "\n"
    print(table, end="")
    if args.out:
        args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
