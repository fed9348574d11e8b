"""model_settings.typed: a dict of numpy arrays, read through Arrow, gives the table a DataFrame gives."""
import duckdb
import numpy as np
import pandas as pd

import model_settings

COLUMNS = {"customer_id": "bigint", "day": "date", "stamp": "timestamp", "value": "double", "label": "varchar",
           "flag": "boolean", "constant": "double", "constant_day": "date", "constant_text": "varchar"}


def test_typed_reads_a_dict_of_arrays_as_it_reads_the_dataframe() -> None:
    rng = np.random.default_rng(3)
    n = 1000
    value = rng.normal(size=n).round(2)                # ties, NaN (read as null), signed zeros and infinities
    value[::7] = np.nan
    value[1::11] = -0.0
    value[2::13] = np.inf
    label = np.array(["a", "b", None], dtype=object)[rng.integers(0, 3, n)]
    columns = {
        "customer_id": rng.permutation(n).astype(np.int64),
        "day": np.datetime64("2026-01-01", "us") + rng.integers(0, 400, n).astype("timedelta64[D]"),
        "stamp": np.datetime64("2026-01-01T12:34:56.789", "us") + rng.integers(0, 10**9, n).astype("timedelta64[s]"),
        "value": value,
        "label": label,
        "flag": rng.integers(0, 2, n).astype(bool),
        "constant": 0.25,
        "constant_day": np.datetime64("2026-03-01", "us"),
        "constant_text": "x",
    }
    with duckdb.connect() as con:
        from_dict = model_settings.typed(con, columns, COLUMNS).fetchall()
        from_frame = model_settings.typed(con, pd.DataFrame(columns), COLUMNS).fetchall()
        types = model_settings.typed(con, columns, COLUMNS).types
    assert [str(t) for t in types] == [t.upper() for t in COLUMNS.values()]
    assert repr(from_dict) == repr(from_frame)          # repr: NaN, -0.0 and None compared as written
    assert sum(row[3] is None for row in from_dict) == np.isnan(value).sum() > 0


def test_arrays_fill_nulls_of_numeric_columns_with_nan() -> None:
    with duckdb.connect() as con:
        relation = con.sql("select * from (values (1, 2.5, 'a'), (null, null, null)) t(i, f, s)")
        arrays = model_settings.arrays(relation)
    assert arrays["i"].dtype == np.float64 and np.isnan(arrays["i"][1]) and arrays["i"][0] == 1
    assert np.isnan(arrays["f"][1]) and arrays["f"][0] == 2.5
    assert arrays["s"][0] == "a"
