"""CSV cells: RFC 4180 quoting and spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import io

from plugin.measurement.exports import ROWS_PER_CHUNK, csv_chunks, safe_cell


def test_cells_a_spreadsheet_would_run_get_an_apostrophe():
    cells = ["=1+1", "+33", "-2", "@SUM(A1)", "\tx", "\rx", "plain", "a=b", None, True, 3]
    assert [safe_cell(c) for c in cells] == ["'=1+1", "'+33", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "plain", "a=b", "",
                                             "true", "3"]


def test_quotes_commas_and_newlines_round_trip():
    # given
    row = ['say "hi", then\nleave', "ok"]
    # when
    text = "".join(csv_chunks(["a", "b"], [row]))
    # then
    assert text == 'a,b\r\n"say ""hi"", then\nleave",ok\r\n'
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], row]


def test_rows_come_in_chunks():
    # when
    chunks = list(csv_chunks(["n"], ([i] for i in range(ROWS_PER_CHUNK * 2 + 1))))
    # then
    assert [c.count("\r\n") for c in chunks] == [ROWS_PER_CHUNK + 1, ROWS_PER_CHUNK, 1]
