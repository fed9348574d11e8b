"""Folds dealt in a keyed-hash order: the one scheme behind the uplift models' and the churn model's folds.

Customers are ordered by the BLAKE2b-64 digest of a text per customer (ties broken by the given columns) and
dealt round-robin, so the folds depend only on the ids and a seed, never on the row order or the outcomes, and
their sizes differ by at most one.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def blake2b_64(texts: Sequence[str], key: bytes = b"") -> np.ndarray:
    """BLAKE2b digests of 8 bytes (keyed with ``key``; empty means unkeyed), read as big-endian uint64, which
    sorts exactly as the digests' hex texts do."""
    blake2b = hashlib.blake2b
    joined = b"".join([blake2b(text.encode(), digest_size=8, key=key).digest() for text in texts])
    return np.frombuffer(joined, dtype=">u8").astype(np.uint64)


def deal_folds(sort_keys: Mapping[str, np.ndarray], folds: int) -> np.ndarray:
    """Fold (0..folds-1) per row: rows ordered by ``sort_keys`` (column name -> values, earlier keys first,
    stable) and dealt round-robin."""
    frame = pd.DataFrame(dict(sort_keys))
    n = len(frame)
    frame["__pos"] = np.arange(n)
    order = frame.sort_values(list(sort_keys), kind="mergesort")["__pos"].to_numpy()
    fold = np.empty(n, dtype=np.int64)
    fold[order] = np.arange(n) % folds
    return fold
