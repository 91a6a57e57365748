"""Bring the written corpus into labels/: re-split its articles and check every label.

    python labels/import_written.py [../shared/corpus]

Copies the article texts to labels/articles/, their metadata to
labels/articles/articles.jsonl (adding ``source``, the article's style, which
stands for its outlet in drift reports), and writes labels/written.jsonl with
``origin: written``. Fails, writing nothing, if a corpus line does not come out
of the project's splitter as exactly one sentence with the same text.
"""

import json
import shutil
import sys
from pathlib import Path

from stance.fileio import atomic_write_text
from stance.schema import write_labels
from stance.segment import read_article

HERE = Path(__file__).resolve().parent


def main(corpus: Path) -> None:
    rows = [json.loads(line) for line in (corpus / "labels.jsonl").read_text("utf-8").splitlines() if line.strip()]
    by_article: dict[str, list[dict]] = {}
    for row in rows:
        by_article.setdefault(row["article"], []).append(row)
    out = []
    for article_id, labels in by_article.items():
        article = read_article(corpus / "articles" / f"{article_id}.txt")
        texts = [s.text for s in article.segments]
        given = [r["text"] for r in sorted(labels, key=lambda r: r["sentence"])]
        if texts != given:
            sys.exit(f"{article_id}: the splitter does not reproduce the corpus lines; fix before importing")
        for row in sorted(labels, key=lambda r: r["sentence"]):
            out.append({**{k: row[k] for k in ("article", "sentence", "text", "russia", "eu")}, "origin": "written"})
    target = HERE / "articles"
    target.mkdir(exist_ok=True)
    for path in sorted((corpus / "articles").glob("*.txt")):
        shutil.copyfile(path, target / path.name)
    for name in ("FACTS.md", "README.md"):
        shutil.copyfile(corpus / name, target / name)
    # Each article's style stands for its outlet, so that drift reports break down by source.
    index = [json.loads(line) for line in (corpus / "articles.jsonl").read_text("utf-8").splitlines() if line.strip()]
    atomic_write_text(
        target / "articles.jsonl",
        "".join(json.dumps({**row, "source": row["style"]}, ensure_ascii=False) + "\n" for row in index),
    )
    write_labels(out, HERE / "written.jsonl")
    print(f"wrote {len(out)} rows for {len(by_article)} articles to {HERE / 'written.jsonl'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "shared" / "corpus")
