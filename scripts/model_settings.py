"""Project variables as dbt Python models see them.

A Python model cannot call `var()`: each model's YAML renders the variables it needs into `config.meta`,
and the model reads them with `dbt.config.meta_get(...)`. Rendering turns everything into text ("10",
"None", "auto"), so the values are converted back here, with an error that names the variable.
"""

from __future__ import annotations


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    # A null variable renders as "None".
    return None if text in ("", "None", "null") else text


def number(name: str, value, *, optional: bool = False, integer: bool = False):
    text = _text(value)
    if text is None:
        if optional:
            return None
        raise ValueError(f"variable {name} must be set (got {value!r})")
    try:
        parsed = float(text)
    except ValueError:
        raise ValueError(f"variable {name} must be a number, got {value!r}") from None
    if integer:
        if parsed != int(parsed):
            raise ValueError(f"variable {name} must be a whole number, got {value!r}")
        return int(parsed)
    return parsed


def choice(name: str, value, allowed: tuple[str, ...]) -> str:
    text = None if value is None else str(value).strip()
    if text not in allowed:
        raise ValueError(f"variable {name} must be one of {', '.join(allowed)}; got {value!r}")
    return text


def k_setting(name: str, value) -> str | int:
    """'auto' or a whole number of clusters."""
    text = _text(value)
    if text == "auto":
        return "auto"
    return number(name, text, integer=True)


def cluster_options(transform, outliers, k, k_min, k_max, seed, n_init, silhouette_sample_size,
                    k_search_sample_size):
    """The K-means options from the cluster_* variables (see dbt_project.yml). k_search_sample_size: null or
    0 = the k search on all customers."""
    import rfm_clusters

    return rfm_clusters.ClusterOptions(
        transform=choice("cluster_transform", transform, ("log1p", "none")),
        outliers=choice("cluster_outliers", outliers, ("none", "iqr")),
        k=k_setting("cluster_k", k),
        k_min=number("cluster_k_min", k_min, integer=True),
        k_max=number("cluster_k_max", k_max, integer=True),
        seed=number("cluster_seed", seed, integer=True),
        n_init=number("cluster_n_init", n_init, integer=True),
        silhouette_sample_size=number("cluster_silhouette_sample_size", silhouette_sample_size, integer=True),
        k_search_sample_size=number(
            "cluster_k_search_sample_size", k_search_sample_size, optional=True, integer=True
        ),
    )


def holdout_days(value) -> int:
    days = number("clv_holdout_days", value, integer=True)
    if days < 1:
        raise ValueError(f"variable clv_holdout_days must be at least 1, got {value!r}")
    return days


def rate(name: str, value, *, optional: bool = False):
    parsed = number(name, value, optional=optional)
    if parsed is not None and not 0 <= parsed <= 1:
        raise ValueError(f"variable {name} must be between 0 and 1, got {value!r}")
    return parsed


def arrays(relation) -> dict:
    """The relation's columns as numpy arrays (DuckDB's fetchnumpy: no pandas DataFrame to build, which costs
    more than the query). A numeric column with nulls comes as float64 with NaN, as in DuckDB's DataFrames, so
    the models' checks for missing values still see them."""
    import numpy as np

    return {
        name: np.ma.filled(values.astype(np.float64), np.nan)
        if np.ma.isMaskedArray(values) and values.dtype.kind in "biuf" else values
        for name, values in relation.fetchnumpy().items()
    }


def typed(session, frame, columns: dict[str, str]):
    """The frame as a DuckDB relation with the documented column types, in the documented order.

    pandas loses SQL types on the way (a date becomes a timestamp, an all-null column has no type), and
    Python models cannot enforce a contract, so each model states its types here once.

    The frame is a pandas DataFrame, or a dict of column name -> numpy array (or a scalar, repeated on every
    row), which DuckDB reads through Arrow: cheaper than building a DataFrame of millions of rows (pandas copies
    its columns into 2-D blocks) and than DuckDB's scan of one. NaN and None are read as null either way.
    """
    if isinstance(frame, dict):
        import numpy as np
        import pyarrow as pa

        rows = next((len(values) for values in frame.values() if np.ndim(values)), 1)
        frame = pa.table({
            name: pa.array(np.full(rows, values) if np.ndim(values) == 0 else values, from_pandas=True)
            for name, values in frame.items()
        })
        relation = session.from_arrow(frame)
    else:
        relation = session.from_df(frame)
    return relation.project(", ".join(f'cast("{name}" as {sql_type}) as "{name}"' for name, sql_type in columns.items()))
