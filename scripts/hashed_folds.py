"""Folds dealt in a keyed-hash order: the one scheme behind the uplift models' and the churn model's folds.

Customers are ordered by the BLAKE2b-64 digest of a text per customer (ties broken by the given columns) and
dealt round-robin, so the folds depend only on the ids and a seed, never on the row order or the outcomes, and
their sizes differ by at most one.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd


def blake2b_64(texts: Iterable[str], key: bytes = b"", prefix: bytes = b"") -> np.ndarray:
    """BLAKE2b digests of 8 bytes of ``prefix`` followed by each text as UTF-8 (keyed with ``key``; empty means
    unkeyed), read as big-endian uint64, which sorts exactly as the digests' hex texts do."""
    # Each text is hashed by a copy of one hasher already keyed and fed the prefix: the same digests as a new
    # hasher per text, without keying millions of them.
    start = hashlib.blake2b(digest_size=8, key=key)
    start.update(prefix)
    copy = start.copy
    digests = []
    append = digests.append
    for text in texts:
        hasher = copy()
        hasher.update(text.encode())
        append(hasher.digest())
    return np.frombuffer(b"".join(digests), dtype=">u8").astype(np.uint64)


def deal_folds(sort_keys: Mapping[str, np.ndarray], folds: int) -> np.ndarray:
    """Fold (0..folds-1) per row: rows ordered by ``sort_keys`` (column name -> values, earlier keys first,
    stable) and dealt round-robin."""
    columns = [np.asarray(values) for values in sort_keys.values()]
    if columns and all(column.ndim == 1 and column.dtype.kind in "biu" for column in columns):
        # Integer keys: numpy's lexsort (stable, last key primary) gives pandas' stable multi-column order.
        n = len(columns[0])
        order = np.lexsort(columns[::-1])
    else:
        frame = pd.DataFrame(dict(sort_keys))
        n = len(frame)
        frame["__pos"] = np.arange(n)
        order = frame.sort_values(list(sort_keys), kind="mergesort")["__pos"].to_numpy()
    fold = np.empty(n, dtype=np.int64)
    fold[order] = np.arange(n) % folds
    return fold
