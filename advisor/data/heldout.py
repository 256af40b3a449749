"""A separate test file (``--test-file``), read and checked against the data before any benchmark:
its labels, its size, and its rows whose text the data also holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from engines.base import Record

if TYPE_CHECKING:
    from advisor.data.labelled import Dataset


class HeldOutFile(Record):
    """A separate test file, read and checked against the data (``read_test_file``)."""

    rows: int
    overlap: int = Field(description="Its rows whose text (ignoring case and whitespace) is also in the data.")
    warning: str | None = Field(None, description="The overlap as a warning line; None when there is none.")


def check_test_file(
    test_file: str, data: Dataset, *, text_col: str | None, label_col: str | None, encoding: str | None
) -> int:
    """``read_test_file``'s row count."""
    return read_test_file(test_file, data, text_col=text_col, label_col=label_col, encoding=encoding).rows


def read_test_file(
    test_file: str, data: Dataset, *, text_col: str | None, label_col: str | None, encoding: str | None
) -> HeldOutFile:
    """Read the separate test file now (bad file → one DataError line before any benchmark), check it
    has no label the data lacks, and count its rows whose text is also in the data (all its rows, when
    ``data`` holds a sample), since scores on them are inflated."""
    from advisor.data.labelled import load_dataset
    from advisor.data.summary import overlap, overlap_warning
    from engines.errors import DataError

    test = load_dataset(
        test_file,
        text_col=text_col or data.text_col or None,
        label_col=label_col or data.label_col or None,
        encoding=encoding,
    )
    unseen = sorted(set(test.examples.labels) - set(data.class_counts))
    if unseen:
        raise DataError(f"test file {test_file} has label(s) the data lacks: {', '.join(map(repr, unseen[:3]))}")
    if data.sampled:  # every row of the data counts, not only the sample's
        from advisor.data.summary_stream import file_overlap

        same, conflicts = file_overlap(
            data.ref, test.examples, text_col=data.text_col, label_col=data.label_col, encoding=data.encoding
        )
    else:
        same, conflicts = overlap(data.examples, test.examples)
    rows = len(test.examples)
    return HeldOutFile(
        rows=rows,
        overlap=same,
        warning=overlap_warning(same, conflicts, test_ref=test.ref, test_rows=rows, train_ref=data.ref),
    )
