"""Load CSV and Excel files into a new SQLite file, one table per file or sheet.

Split out of ``connection.py``, which owns the temporary folder and reopens the result
read-only; this module only turns bytes into tables. CSVs are sniffed (encoding,
delimiter, decimal comma) from their first bytes and then streamed in chunks, so a
file larger than memory still loads. Every cell goes through the same text-based type
inference whether it came from a CSV or a workbook, so both kinds of upload give the
same column types. Names are cleaned to snake_case so the model's unquoted SQL works.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from sqlchat.errors import ConnectionFailed
from sqlchat.schema.model import RESERVED_WORDS

log = logging.getLogger(__name__)

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
TABULAR_SUFFIXES = CSV_SUFFIXES | EXCEL_SUFFIXES

Source = tuple[str, Callable[[], IO[bytes]]]  # a file name and a way to (re)open its bytes

CSV_CHUNK_ROWS = 100_000  # rows per pandas chunk: bounds memory for very large CSVs
CSV_CHUNK_CELLS = 1_000_000  # ...and cells per chunk, so a 2,000-column CSV does not read 200 million cells at once
_SNIFF_BYTES = 256 * 1024
_DELIMITERS = (",", ";", "\t", "|")
_NULL_TOKENS = frozenset({"", "null", "none", "na", "n/a", "nan", "#n/a"})


@dataclass
class _Sheet:
    """One future table: where it came from, its header cells and a re-readable stream of string chunks."""

    source: str  # for messages: "sales.csv" or "book.xlsx (sheet Q1)"
    table_hint: str
    header: list[Any]
    chunks: Callable[[], Iterator[pd.DataFrame]]
    decimal_comma: bool = False


MAX_COLUMNS = 2000  # SQLite's own limit (SQLITE_MAX_COLUMN): beyond it CREATE TABLE fails


def load_tabular_files(path: Path, sources: list[Source], *, chunk_rows: int = CSV_CHUNK_ROWS) -> None:
    """Write every file's tables into a new SQLite file at ``path``.

    ``sources`` are reopened rather than read whole, so large CSVs stream ``chunk_rows``
    rows at a time. Raises ConnectionFailed with a plain sentence for unreadable input.
    """
    sheets = [sheet for name, opener in sources
              for sheet in _sheets_of(Path(name).name or "upload", opener, chunk_rows)]
    tables = _unique_names([_clean_name(s.table_hint, "table", "t") for s in sheets])
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = OFF")  # a throwaway build: speed over durability
        conn.execute("PRAGMA synchronous = OFF")
        for sheet, table in zip(sheets, tables):
            _load_sheet(conn, table, sheet)
        conn.commit()
    finally:
        conn.close()


def _sheets_of(name: str, opener: Callable[[], IO[bytes]], chunk_rows: int) -> list[_Sheet]:
    suffix = Path(name).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return [_csv_sheet(name, opener, "\t" if suffix == ".tsv" else None, chunk_rows)]
    if suffix in EXCEL_SUFFIXES:
        with opener() as fh:
            return _excel_sheets(name, fh.read())
    raise ConnectionFailed(f"{name} is not a CSV or Excel file.", detail=f"Unsupported suffix {suffix or '(none)'}.")


# ---- CSV


def _csv_sheet(name: str, opener: Callable[[], IO[bytes]], delimiter: str | None, chunk_rows: int) -> _Sheet:
    """Check, decode and sniff a CSV; the rows themselves are read later, in chunks, from ``opener``."""
    with opener() as fh:
        sample = fh.read(_SNIFF_BYTES + 1)
    complete = len(sample) <= _SNIFF_BYTES
    sample = sample[:_SNIFF_BYTES]
    if not sample.strip():
        raise ConnectionFailed(f"{name} is empty; there is nothing to load.")
    encoding = _detect_encoding(sample, complete=complete)
    text = sample.decode(encoding, errors="replace")
    if _looks_binary(text):
        raise ConnectionFailed(
            f"{name} does not look like a CSV text file (it contains binary data).",
            detail=f"Decoded as {encoding}; control characters found in the first {len(sample)} bytes.",
        )
    if not complete:
        text = text.rsplit("\n", 1)[0]  # drop a partial last line
    delimiter = delimiter or _sniff_delimiter(text)
    options = dict(sep=delimiter, header=None, dtype=str, na_filter=False, keep_default_na=False,
                   encoding=encoding, encoding_errors="replace", skip_blank_lines=True, engine="c")
    header = _csv_call(name, lambda: _read_csv_head(opener, options))
    if header.empty:
        raise ConnectionFailed(f"{name} is empty; there is nothing to load.")
    chunk_rows = max(1, min(chunk_rows, CSV_CHUNK_CELLS // max(1, header.shape[1])))

    def chunks() -> Iterator[pd.DataFrame]:
        with opener() as fh, pd.read_csv(fh, chunksize=chunk_rows, **options) as reader:
            for i, chunk in enumerate(reader):
                yield chunk.iloc[1:] if i == 0 else chunk

    return _Sheet(name, Path(name).stem, header.iloc[0].tolist(), chunks, decimal_comma=delimiter != ",")


def _read_csv_head(opener: Callable[[], IO[bytes]], options: dict[str, Any]) -> pd.DataFrame:
    with opener() as fh:
        return pd.read_csv(fh, nrows=1, **options)


def _csv_call(name: str, read: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    try:
        return read()
    except pd.errors.EmptyDataError as exc:
        raise ConnectionFailed(f"{name} is empty; there is nothing to load.", detail=str(exc)) from exc
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise ConnectionFailed(f"{name} could not be read as a CSV file.", detail=str(exc)) from exc


def _detect_encoding(sample: bytes, *, complete: bool) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252, else Latin-1 (never fails)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp1252"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"


def _looks_binary(text: str) -> bool:
    """NUL bytes or many control characters mean this is not a text file, whatever its name."""
    if "\x00" in text:
        return True
    controls = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\r\n\f") or ch == "\ufffd")
    return controls > max(2, len(text) // 50)


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most consistent number (>1) of fields."""
    lines = [line for line in text.splitlines()[:100] if line.strip()]
    best, best_key = ",", (0.0, 0)
    for delimiter in _DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)]
        except csv.Error:
            continue
        if not counts or max(counts) < 2:
            continue
        mode = max(set(counts), key=lambda c: (counts.count(c), c))
        key = (counts.count(mode) / len(counts), mode)
        if key > best_key:
            best, best_key = delimiter, key
    return best


# ---- Excel

_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _excel_sheets(name: str, data: bytes) -> list[_Sheet]:
    """Every non-empty sheet becomes a table; a workbook with one sheet is named after the file."""
    frames = _read_workbook(name, data)
    kept = [(sheet, frame) for sheet, frame in frames.items() if not frame.empty]
    if not kept:
        raise ConnectionFailed(f"{name} has no data in any sheet.")
    sheets = []
    for sheet_name, frame in kept:
        body = frame.iloc[1:].reset_index(drop=True)
        body.columns = range(body.shape[1])
        hint = Path(name).stem if len(kept) == 1 else str(sheet_name)
        sheets.append(_Sheet(f"{name} (sheet {sheet_name})", hint, frame.iloc[0].tolist(),
                             lambda body=body: iter([body])))
    return sheets


# Bounds on a workbook, checked before any reader builds a sheet (issue 29: a 1.6 KB .xlsx declaring A1:XFD1048576
# made the reader reserve 512 GiB and abort the server). A reader allocates the sheet's whole rectangle, as declared
# (<dimension ref=...>) and as spanned by its cells, so both are checked against MAX_EXCEL_CELLS; the zip's
# unpacked size is checked first (the scan reads it all) and bounds the time the scan takes.
MAX_EXCEL_CELLS = 1_000_000  # rows x columns of all sheets together
MAX_EXCEL_UNZIPPED_BYTES = 200_000_000
_CELL_REF = re.compile(rb"<(?:\w+:)?c\b[^>]*?\br=\"([A-Z]{1,3})(\d{1,7})\"")
_CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s>/]")
_ROW_TAG = re.compile(rb"<(?:\w+:)?row\b([^>]*)>")
_ROW_REF = re.compile(rb"\br=\"(\d{1,7})\"")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*\bref=\"([A-Z]{0,3})(\d{0,7})(?::([A-Z]{1,3})(\d{1,7}))?\"")


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ch - 64
    return number


def check_xlsx_size(name: str, data: bytes) -> None:
    """Refuse a workbook whose sheets would not fit :data:`MAX_EXCEL_CELLS`, before a reader builds them.

    Reads the zip's sheet XML as a stream (a bounded window at a time) and looks at the declared dimension and at
    every cell reference; memory stays at a few MB whatever the file says.
    """
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ConnectionFailed(f"{name} is not a valid Excel file.", detail=str(exc)) from None
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_EXCEL_UNZIPPED_BYTES:
        raise ConnectionFailed(f"{name} unpacks to {unpacked / 1e6:,.0f} MB; this server reads Excel files of at most "
                               f"{MAX_EXCEL_UNZIPPED_BYTES / 1e6:,.0f} MB unpacked. Save it as CSV and upload that.")
    total = 0
    for member in members:
        if not (member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml")):
            continue
        rows, columns, declared = _sheet_extent(archive, member)
        total += max(rows * columns, declared)
        if total > MAX_EXCEL_CELLS:
            raise ConnectionFailed(
                f"{name} has a sheet of {rows:,} rows × {columns:,} columns"
                + (f" (it declares {declared:,} cells)" if declared > rows * columns else "")
                + f"; this server reads at most {MAX_EXCEL_CELLS:,} cells per workbook. Remove the empty or "
                "far-away cells, or save it as CSV and upload that.")


def _sheet_extent(archive: Any, member: Any) -> tuple[int, int, int]:
    """(last row, last column, cells the <dimension> declares) of one sheet's XML, read as a stream."""
    rows = columns = declared = 0
    row_count = unreferenced = 0
    tail = b""
    with archive.open(member) as fh:
        while chunk := fh.read(1 << 20):
            window = tail + chunk
            cut = window.rfind(b">") + 1  # only whole tags are scanned; the rest waits for the next chunk
            part, tail = window[:cut], window[cut:]
            if len(tail) > 1 << 16:  # a tag longer than 64 KB is not a spreadsheet's
                raise ConnectionFailed(f"{member.filename} is not a valid Excel sheet.")
            if not declared and (dim := _DIMENSION.search(part)):
                first_col, first_row, last_col, last_row = dim.groups()
                if last_col:
                    declared = ((int(last_row) - int(first_row or 1) + 1)
                                * (_column_number(last_col) - _column_number(first_col or b"A") + 1))
            for match in _ROW_TAG.finditer(part):
                row_count += 1
                ref = _ROW_REF.search(match.group(1))
                rows = max(rows, int(ref.group(1)) if ref else row_count, row_count)
            referenced = 0
            for match in _CELL_REF.finditer(part):
                referenced += 1
                columns = max(columns, _column_number(match.group(1)))
                rows = max(rows, int(match.group(2)))
            unreferenced += len(_CELL_TAG.findall(part)) - referenced
    return rows, max(columns, unreferenced and columns + unreferenced), declared


def _read_workbook(name: str, data: bytes) -> dict[str, pd.DataFrame]:
    """Read all sheets as text cells (dates as ISO), dropping fully empty rows and columns."""
    if data.startswith(_XLSX_MAGIC):
        check_xlsx_size(name, data)  # before calamine reserves the sheet's declared rectangle
        engine = "calamine"  # Rust reader: a 771 KB sheet in 0.25 s where openpyxl took 3.0 s, the same cells
    elif data.startswith(_XLS_MAGIC):
        engine = "xlrd"
        try:
            import xlrd  # noqa: F401  (optional: only old .xls files need it)
        except ImportError as exc:
            raise ConnectionFailed(
                f"{name} is an old-style Excel file; save it as .xlsx or CSV and upload it again.", detail=str(exc)
            ) from exc
    elif not data:
        raise ConnectionFailed(f"{name} is empty; there is nothing to load.")
    else:
        raise ConnectionFailed(f"{name} is not a valid Excel file.", detail="Neither an .xlsx nor an .xls header.")
    try:
        frames = pd.read_excel(io.BytesIO(data), sheet_name=None, header=None, dtype=object, engine=engine)
    except Exception as exc:
        raise ConnectionFailed(f"{name} could not be read as an Excel file.", detail=str(exc)) from exc
    return {sheet: frame.dropna(how="all").dropna(axis=1, how="all").map(_excel_cell_text)
            for sheet, frame in frames.items()}


def _excel_cell_text(value: Any) -> str | None:
    """One cell as the text a CSV would hold, so CSV and Excel share the type inference."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e18 else repr(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if hasattr(value, "strftime") and hasattr(value, "hour") and hasattr(value, "year"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# ---- names


def _clean_name(raw: Any, fallback: str, digit_prefix: str) -> str:
    """snake_case ASCII where possible (``Unit Price ($)`` -> ``unit_price``), never empty or reserved."""
    text = "" if raw is None or (isinstance(raw, float) and raw != raw) else str(raw)
    text = text.replace("%", " percent ").replace("#", " number ")
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"\W+", "_", text.lower())
    text = re.sub(r"_+", "_", text).strip("_") or fallback
    if text[0].isdigit():
        text = f"{digit_prefix}_{text}"
    if text in RESERVED_WORDS:  # so the model's unquoted SQL still works
        text += "_"
    return text


def _unique_names(names: list[str]) -> list[str]:
    """Suffix repeats with _2, _3, ... (case-insensitively, as SQLite compares names)."""
    seen: set[str] = set()
    result = []
    for name in names:
        candidate, n = name, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate.lower())
        result.append(candidate)
    return result


# ---- type inference and loading

_INT_RE = r"[+-]?(?:0|[1-9]\d{0,17})"
_REAL_RE = r"[+-]?(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_COMMA_REAL_RE = r"[+-]?(?:0|[1-9]\d*),\d+"
_DATE_SHAPE_RE = r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_FORMATS = (
    "%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y",
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%m/%d/%y", "%d/%m/%y", "%d.%m.%y",
)


class _ColumnGuess:
    """Narrows a column's type chunk by chunk: INTEGER, then REAL, then DATE/DATETIME, else TEXT."""

    def __init__(self, decimal_comma: bool):
        self.kinds = {"INTEGER", "REAL", "DATE"} | ({"COMMA_REAL"} if decimal_comma else set())
        self.date_formats = list(_DATE_FORMATS)
        self.midnight = True
        self.seen = False

    def update(self, values: pd.Series) -> None:
        values = values[~values.str.lower().isin(_NULL_TOKENS)].drop_duplicates()
        if values.empty:
            return
        self.seen = True
        for kind, pattern in (("INTEGER", _INT_RE), ("REAL", _REAL_RE), ("COMMA_REAL", _COMMA_REAL_RE)):
            if kind in self.kinds and not values.str.fullmatch(pattern).all():
                self.kinds.discard(kind)
        if "DATE" in self.kinds:
            self._update_dates(values)

    def _update_dates(self, values: pd.Series) -> None:
        if not values.str.fullmatch(_DATE_SHAPE_RE).all():
            self.kinds.discard("DATE")
            return
        self.date_formats = [f for f in self.date_formats if _parse_dates(values, f).notna().all()]
        if not self.date_formats:
            self.kinds.discard("DATE")
            return
        parsed = _parse_dates(values, self.date_formats[0])
        self.midnight = self.midnight and bool((parsed == parsed.dt.normalize()).all())

    @property
    def sql_type(self) -> str:
        if not self.seen:
            return "TEXT"
        for kind, sql_type in (("INTEGER", "INTEGER"), ("REAL", "REAL"), ("COMMA_REAL", "REAL")):
            if kind in self.kinds:
                return sql_type
        if "DATE" in self.kinds:
            return "DATE" if self.midnight else "DATETIME"
        return "TEXT"

    def convert(self, values: pd.Series) -> list[Any]:
        """Python values ready for SQLite: int, float, ISO date text, text or None."""
        sql_type = self.sql_type
        if sql_type == "TEXT":
            return [v if v else None for v in values.tolist()]
        nulls = values.str.lower().isin(_NULL_TOKENS).tolist()
        if sql_type in ("DATE", "DATETIME"):
            iso = _parse_dates(values, self.date_formats[0])
            text = iso.dt.strftime("%Y-%m-%d" if sql_type == "DATE" else "%Y-%m-%d %H:%M:%S").tolist()
            return [None if null else t for t, null in zip(text, nulls)]
        if "INTEGER" in self.kinds:
            cast: Callable[[str], Any] = int
        elif "REAL" in self.kinds:
            cast = float
        else:
            cast = lambda v: float(v.replace(",", "."))  # noqa: E731
        return [None if null else cast(v) for v, null in zip(values.tolist(), nulls)]


def _parse_dates(values: pd.Series, fmt: str) -> pd.Series:
    """Parse with one format; ISO's ``T`` separator is read as a space so both spellings mix."""
    return pd.to_datetime(values.str.replace("T", " ", n=1, regex=False), format=fmt, errors="coerce")


def _load_sheet(conn: sqlite3.Connection, table: str, sheet: _Sheet) -> None:
    """Two passes over the chunks: infer every column's type, then create the table and insert."""
    width = len(sheet.header)
    if width > MAX_COLUMNS:
        raise ConnectionFailed(f"{sheet.source} has {width:,} columns; a table can have at most {MAX_COLUMNS:,}.")
    columns = _unique_names([_clean_name(h, f"column_{i + 1}", "col") for i, h in enumerate(sheet.header)])
    guesses = [_ColumnGuess(sheet.decimal_comma) for _ in columns]
    for chunk in _text_chunks(sheet, width):
        for i, guess in enumerate(guesses):
            guess.update(chunk[i])
    column_sql = ", ".join(f'"{c}" {g.sql_type}' for c, g in zip(columns, guesses))
    conn.execute(f'CREATE TABLE "{table}" ({column_sql})')
    insert = f'INSERT INTO "{table}" VALUES ({", ".join("?" * width)})'
    for chunk in _text_chunks(sheet, width):
        converted = [guess.convert(chunk[i]) for i, guess in enumerate(guesses)]
        conn.executemany(insert, zip(*converted))
    log.info("loaded %s into table %s", sheet.source, table)


def _text_chunks(sheet: _Sheet, width: int) -> Iterator[pd.DataFrame]:
    """The sheet's rows as stripped strings ("" for missing), exactly ``width`` columns."""
    chunks = sheet.chunks()
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except (pd.errors.ParserError, ValueError, csv.Error) as exc:
            raise ConnectionFailed(
                f"{sheet.source} could not be read: some rows do not match the header.", detail=str(exc)
            ) from exc
        chunk = chunk.reindex(columns=range(width))
        yield pd.DataFrame({i: chunk[i].astype(object).where(chunk[i].notna(), "").astype(str).str.strip()
                            for i in range(width)})

