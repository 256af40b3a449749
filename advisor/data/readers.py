"""Reading labelled text files: format detection, file checks, column detection, chunked readers.

Formats: CSV/TSV (any delimiter among , tab ; |), JSONL (and a JSON array), Parquet, and a
folder-per-class tree of text files. Compressed files (.gz .bz2 .xz .zst .zip) are read through
pandas. Everything a user can get wrong raises DataError with one line naming the file.
pandas/pyarrow are imported inside functions so that importing this module stays cheap.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

TEXT_NAMES = (
    "text",
    "sentence",
    "content",
    "review",
    "document",
    "body",
    "snippet",
    "message",
    "comment",
    "tweet",
    "utterance",
    "question",
    "abstract",
    "description",
)
LABEL_NAMES = ("label", "labels", "category", "class", "target", "sentiment", "y", "intent", "topic", "tag", "emotion")
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".zip": "zip"}
FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "csv",
}
SNIFF_BYTES = 8192
PREVIEW_ROWS = 2000
CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class SourceFile:
    """A checked data source: where, which format, how to decode it."""

    path: Path
    display: str
    format: str  # csv, tsv, jsonl, json, parquet, folder
    encoding: str
    sep: str | None = None
    compression: str | None = None
    size: int = 0  # bytes on disk (sum over files for a folder)
    files: tuple[tuple[str, Path], ...] = ()  # folder: (label, file) pairs
    errors: str = "strict"  # decoding errors: "strict", or "replace" for known-messy demo data


# ------------------------------------------------------------------------ file checks
def _head(path: Path, compression: str | None, n: int = SNIFF_BYTES) -> bytes:
    openers: dict[str, Callable[..., Any]] = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
    try:
        if compression in openers:
            with openers[compression](path, "rb") as fh:
                return fh.read(n)
        if compression is None:
            with path.open("rb") as fh:
                return fh.read(n)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    return b""  # zip / zstd: let pandas read them


def _decode_error(display: str, encoding: str, byte: int, offset: int) -> DataError:
    hint = "pass --encoding, e.g. --encoding latin-1" if encoding.startswith("utf") else "pass another --encoding"
    return DataError(f"cannot decode {display} as {encoding} (byte 0x{byte:02x} at offset {offset}); {hint}")


def locate_decode_error(src: SourceFile) -> DataError:
    """Scan the file with an incremental decoder to report the first undecodable byte exactly."""
    decoder = codecs.getincrementaldecoder(src.encoding)("strict")
    offset = 0
    openers: dict[str, Callable[..., Any]] = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
    opener = openers.get(src.compression or "", open)
    with opener(src.path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return _decode_error(src.display, src.encoding, block[exc.start], offset + exc.start)
            offset += len(block)
    return DataError(f"cannot decode {src.display} as {src.encoding}; pass --encoding, e.g. --encoding latin-1")


def _check_text(head: bytes, display: str, encoding: str | None) -> str:
    """The encoding to use, after the binary and decoding checks on the first bytes."""
    if encoding is None or not encoding.lower().replace("-", "").startswith("utf16"):
        # A stray NUL inside a text is data (load_dataset removes it and warns); many NULs mean binary.
        if head.count(b"\x00") > max(2, len(head) // 100):
            raise DataError(f"{display} looks binary, not text (NUL bytes in the first 8 KiB)")
    if encoding is None:
        encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}; try utf-8, utf-8-sig, latin-1 or cp1252") from None
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise _decode_error(display, encoding, head[exc.start], exc.start) from None
    return encoding


def _sniff_sep(head: bytes, fmt: str) -> str:
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    default = "\t" if fmt == "tsv" else ","
    counts = {sep: first.count(sep) for sep in (default, ",", "\t", ";", "|")}
    best = max(counts, key=lambda s: counts[s])
    return default if counts[default] > 0 or counts[best] == 0 else best


def open_source(path: Path, *, encoding: str | None = None, display: str | None = None) -> SourceFile:
    """Check ``path`` (exists, not empty, not binary, decodable) and work out its format."""
    display = display or str(path)
    if not path.exists():
        raise DataError(f"data file not found: {display}")
    if path.is_dir():
        return _open_folder(path, display, encoding)
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"data file is empty: {display}")
    suffixes = [s.lower() for s in path.suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression and len(suffixes) >= 2:
        suffixes = suffixes[:-1]
    fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt == "parquet" or (fmt is None and compression is None and _is_parquet(path)):
        if not _is_parquet(path):
            raise DataError(f"{display} is not a Parquet file (no PAR1 magic bytes)")
        return SourceFile(path=path, display=display, format="parquet", encoding="utf-8", size=size)
    head = _head(path, compression)
    if compression in (None, "gzip", "bz2", "xz") and not head.strip():
        raise DataError(f"data file is empty: {display}")
    enc = _check_text(head, display, encoding) if head else (encoding or "utf-8")
    if fmt is None:  # no or unknown extension: sniff
        fmt = "jsonl" if head.lstrip().startswith(b"{") else "json" if head.lstrip().startswith(b"[") else "csv"
    if fmt == "json" and head.lstrip().startswith(b"{"):
        fmt = "jsonl"
    sep = _sniff_sep(head, fmt) if fmt in ("csv", "tsv") else None
    return SourceFile(path=path, display=display, format=fmt, encoding=enc, sep=sep, compression=compression, size=size)


def _is_parquet(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def _open_folder(path: Path, display: str, encoding: str | None) -> SourceFile:
    files: list[tuple[str, Path]] = []
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found = sorted(p for p in sub.rglob("*") if p.is_file() and not p.name.startswith("."))
        txt = [p for p in found if p.suffix.lower() == ".txt"] or found
        files += [(sub.name, p) for p in txt]
    if not files:
        raise DataError(
            f"data folder {display} has no class sub-folders with text files (expected <folder>/<class>/*.txt)"
        )
    size = sum(p.stat().st_size for _, p in files)
    if size == 0:
        raise DataError(f"data folder is empty: {display} (all files are empty)")
    return SourceFile(
        path=path, display=display, format="folder", encoding=encoding or "utf-8", size=size, files=tuple(files)
    )


# --------------------------------------------------------------------------- reading
def _read_folder(src: SourceFile) -> pd.DataFrame:
    import pandas as pd

    texts, labels = [], []
    for label, file in src.files:
        raw = file.read_bytes()
        shown = f"{src.display}/{file.relative_to(src.path)}"
        if b"\x00" in raw[:SNIFF_BYTES]:
            raise DataError(f"{shown} looks binary, not text (NUL bytes in the first 8 KiB)")
        enc = src.encoding
        if enc == "utf-8" and raw.startswith(codecs.BOM_UTF8):
            enc = "utf-8-sig"
        try:
            texts.append(raw.decode(enc, errors=src.errors))
        except UnicodeDecodeError as exc:
            raise _decode_error(shown, enc, raw[exc.start], exc.start) from None
        labels.append(label)
    return pd.DataFrame({"text": texts, "label": labels})


def _csv_kwargs(src: SourceFile) -> dict[str, Any]:
    return dict(
        sep=src.sep or ",",
        encoding=src.encoding,
        encoding_errors=src.errors,
        dtype=str,
        compression=src.compression or "infer",
        engine="c",
    )


def _wrap_errors(src: SourceFile, exc: Exception) -> DataError:
    import pandas as pd

    if isinstance(exc, UnicodeDecodeError):
        return locate_decode_error(src)
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataError(f"data file is empty: {src.display}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    kind = {"csv": "CSV", "tsv": "TSV", "jsonl": "JSON lines", "json": "JSON", "parquet": "Parquet"}.get(
        src.format, src.format
    )
    return DataError(f"cannot parse {src.display} as {kind}: {first}")


def preview(src: SourceFile, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The first ``rows`` rows with all columns (for column detection)."""
    import pandas as pd

    try:
        if src.format == "folder":
            return pd.DataFrame({"text": [], "label": []}, dtype=str)
        if src.format in ("csv", "tsv"):
            return pd.read_csv(src.path, nrows=rows, **_csv_kwargs(src))
        if src.format == "jsonl":
            with pd.read_json(
                src.path,
                lines=True,
                chunksize=rows,
                dtype=False,
                encoding=src.encoding,
                compression=src.compression or "infer",
            ) as reader:
                return next(iter(reader), pd.DataFrame())
        if src.format == "json":
            return _read_json_array(src).head(rows)
        if src.format == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(src.path)
            batch = next(pf.iter_batches(batch_size=rows), None)
            return batch.to_pandas() if batch is not None else pf.schema_arrow.empty_table().to_pandas()
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - parser errors of every library become one line
        raise _wrap_errors(src, exc) from None
    raise DataError(f"unsupported data format {src.format!r}: {src.display}")


def _read_json_array(src: SourceFile) -> pd.DataFrame:
    import pandas as pd

    return pd.read_json(src.path, dtype=False, encoding=src.encoding, compression=src.compression or "infer")


def iter_frames(
    src: SourceFile, text_col: str, label_col: str | None, chunksize: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The file in chunks of raw ``text``/``label`` columns (only those two are kept in memory).

    Without ``label_col`` the chunks have only ``text``. A JSON-lines chunk lacking a key reads as missing values."""
    import pandas as pd

    wanted = {"text": text_col} if label_col is None else {"text": text_col, "label": label_col}
    usecols = list(dict.fromkeys(wanted.values()))

    def select(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({k: df[c].to_numpy() if c in df.columns else [None] * len(df) for k, c in wanted.items()})

    try:
        if src.format == "folder":
            yield _read_folder(src)
        elif src.format in ("csv", "tsv"):
            with pd.read_csv(src.path, usecols=usecols, chunksize=chunksize, **_csv_kwargs(src)) as reader:
                for chunk in reader:
                    yield select(chunk)
        elif src.format == "jsonl":
            with pd.read_json(
                src.path,
                lines=True,
                chunksize=chunksize,
                dtype=False,
                encoding=src.encoding,
                compression=src.compression or "infer",
            ) as reader:
                for chunk in reader:
                    yield select(chunk)
        elif src.format == "json":
            yield select(_read_json_array(src))
        elif src.format == "parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(src.path).iter_batches(batch_size=chunksize, columns=usecols):
                yield select(batch.to_pandas())
        else:
            raise DataError(f"unsupported data format {src.format!r}: {src.display}")
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _wrap_errors(src, exc) from None


# ------------------------------------------------------------------- column detection
def _is_textual(series: pd.Series) -> bool:
    import pandas as pd

    values = series.dropna()
    if values.empty:
        return False
    if pd.api.types.is_string_dtype(series) or series.dtype == object:
        if values.map(lambda v: isinstance(v, str)).mean() <= 0.9:
            return False
        numeric = pd.to_numeric(values, errors="coerce").notna().mean()  # CSV cells are read as strings
        return bool(numeric < 0.5)
    return False


def detect_columns(df: pd.DataFrame, src: SourceFile, text_col: str | None, label_col: str | None) -> tuple[str, str]:
    """(text column, label column): the given ones (checked), else by name, else by content."""
    if src.format == "folder":
        return "text", "label"
    columns = [str(c) for c in df.columns]
    listing = ", ".join(columns) if columns else "none"
    for given in (text_col, label_col):
        if given is not None and given not in columns:
            raise DataError(f"column {given!r} not in {src.display} (columns: {listing})")
    if text_col is not None and text_col == label_col:
        raise DataError(f"--text-col and --label-col are both {text_col!r}; they must differ")
    if df.empty and not columns:
        raise DataError(f"data file is empty: {src.display}")
    lower = {c.lower().strip(): c for c in columns}

    def by_name(names: tuple[str, ...], exclude: str | None) -> str | None:
        for name in names:
            if name in lower and lower[name] != exclude:
                return lower[name]
        return None

    text = text_col or by_name(TEXT_NAMES, label_col)
    label = label_col or by_name(LABEL_NAMES, text)
    if text is None:
        textual = [c for c in columns if c != label and _is_textual(df[c])]
        if not textual:
            raise DataError(f"no text column in {src.display} (columns: {listing}); pass --text-col")
        text = max(textual, key=lambda c: df[c].dropna().astype(str).str.len().mean())
    if label is None:
        n = max(1, len(df))
        candidates = []
        for c in columns:
            if c == text:
                continue
            uniques = df[c].dropna().astype(str).str.strip()
            k = uniques[uniques != ""].nunique()
            if 2 <= k <= max(2, min(1000, int(0.2 * n))) or (k == 1 and n <= 5):
                candidates.append((k, columns.index(c), c))
        if not candidates:
            raise DataError(f"no label column in {src.display} (columns: {listing}); pass --label-col")
        label = min(candidates)[2]
    return text, label
