"""The declarative chart choice: column types decide, nothing else."""

from __future__ import annotations

import pandas as pd
import pytest

from sqlchat.charts import MAX_BARS, ChartChoice, chart_data, choose_chart


def test_category_by_number_is_a_bar_chart() -> None:
    frame = pd.DataFrame({"Name": ["Iron Maiden", "U2", "Metallica"], "tracks": [213, 135, 112]})
    assert choose_chart(frame) == ChartChoice("bar", "Name", "tracks")


def test_key_columns_are_not_measures() -> None:
    frame = pd.DataFrame({"ArtistId": [1, 2, 3], "Name": ["a", "b", "c"], "n": [3, 2, 1]})
    assert choose_chart(frame) == ChartChoice("bar", "Name", "n")
    assert choose_chart(frame[["ArtistId", "Name"]]) is None


def test_iso_date_text_by_number_is_a_line_chart() -> None:
    frame = pd.DataFrame({"month": ["2009-02", "2009-01", "2009-03"], "total": [5.0, 3.5, 7.25]})
    choice = choose_chart(frame)
    assert choice == ChartChoice("line", "month", "total")
    data = chart_data(frame, choice)
    assert list(data["label"].dt.month) == [1, 2, 3]  # sorted by time
    assert list(data["value"]) == [3.5, 5.0, 7.25]


def test_years_are_time_not_measures() -> None:
    frame = pd.DataFrame({"year": [2010, 2009, 2011], "revenue": [10.0, 20.0, 30.0]})
    assert choose_chart(frame) == ChartChoice("line", "year", "revenue")
    assert chart_data(frame, choose_chart(frame))["label"].dt.year.tolist() == [2009, 2010, 2011]


def test_datetime_column_is_time() -> None:
    frame = pd.DataFrame({"day": pd.to_datetime(["2024-01-01", "2024-01-02"]), "n": [1, 2]})
    assert choose_chart(frame) == ChartChoice("line", "day", "n")


@pytest.mark.parametrize(
    "frame",
    [
        None,
        pd.DataFrame({"n": [1, 2, 3]}),  # one column
        pd.DataFrame({"Name": ["a"], "n": [1]}),  # one row
        pd.DataFrame({"a": ["x", "y"], "b": ["p", "q"]}),  # no number
        pd.DataFrame({"Name": ["a", "a"], "n": [1, 2]}),  # repeated categories
        pd.DataFrame({"Name": [f"n{i}" for i in range(MAX_BARS + 1)], "n": range(MAX_BARS + 1)}),
    ],
)
def test_no_chart_when_the_shape_does_not_suit(frame: pd.DataFrame | None) -> None:
    assert choose_chart(frame) is None


def test_bar_data_keeps_labels_as_text() -> None:
    frame = pd.DataFrame({"Genre": ["Rock", "Jazz"], "sales": ["1.5", "2"]})
    frame["sales"] = pd.to_numeric(frame["sales"])
    data = chart_data(frame, ChartChoice("bar", "Genre", "sales"))
    assert list(data.columns) == ["label", "value"]
    assert data["label"].tolist() == ["Rock", "Jazz"]
