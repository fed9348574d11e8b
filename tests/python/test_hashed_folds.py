"""The fold schemes of the uplift models and the churn model, checked against their documented definition
written out one customer at a time with hexdigest texts."""
import hashlib

import numpy as np
import pandas as pd
import pytest

import customer_value as cv
import uplift_model as um
from hashed_folds import blake2b_64, deal_folds


def _reference_folds(ids, arms, folds, text, key=b""):
    order = sorted(range(len(ids)), key=lambda i: (arms[i], hashlib.blake2b(text(ids[i]).encode(), digest_size=8,
                                                                            key=key).hexdigest(), ids[i]))
    fold = [0] * len(ids)
    for position, i in enumerate(order):
        fold[i] = position % folds
    return fold


@pytest.fixture(scope="module")
def ids():
    rng = np.random.default_rng(5)
    values = np.unique(rng.integers(-50, 10**12, size=1200))
    return rng.permutation(np.r_[values[:994], 0, -7, 2**62])


def test_blake2b_64_sorts_as_hex_text(ids):
    texts = [str(value) for value in ids]
    digests = blake2b_64(texts, key=b"42")
    hexes = [hashlib.blake2b(text.encode(), digest_size=8, key=b"42").hexdigest() for text in texts]
    assert [f"{int(d):016x}" for d in digests] == hexes
    assert np.argsort(digests, kind="stable").tolist() == sorted(range(len(hexes)), key=hexes.__getitem__)


def test_uplift_folds_follow_the_documented_scheme(ids):
    arms = (np.arange(len(ids)) % 3 == 0).astype(int)
    expected = _reference_folds(ids.tolist(), arms.tolist(), 5, str, key=b"42")
    assert um.assign_folds(ids, arms, folds=5, seed=42).tolist() == expected
    # the same folds from text-like float ids, and a different seed deals differently
    assert um.assign_folds(ids.astype(float), arms, folds=5, seed=42).tolist() == expected
    assert um.assign_folds(ids, arms, folds=5, seed=7).tolist() != expected


def test_uplift_folds_of_an_integer_array_are_those_of_its_ids_as_objects(ids):
    """An integer array is hashed as it is, not boxed into Python objects first: the same folds as the same ids
    as objects (each call hashing anew, the kept dealing cleared), in any integer width."""
    arms = (np.arange(len(ids)) % 3 == 0).astype(int)
    expected = _reference_folds(ids.tolist(), arms.tolist(), 5, str, key=b"42")
    for values in (ids, ids.astype(object), ids.tolist(), pd.Series(ids)):
        um._LAST_FOLDS.clear()
        assert um.assign_folds(values, arms, folds=5, seed=42).tolist() == expected
    small = ids[(ids >= 0) & (ids < 2**31)]
    small_arms = arms[: len(small)]
    expected = _reference_folds(small.tolist(), small_arms.tolist(), 5, str, key=b"42")
    for dtype in (np.int32, np.uint32, np.uint64):
        um._LAST_FOLDS.clear()
        assert um.assign_folds(small.astype(dtype), small_arms, folds=5, seed=42).tolist() == expected


def test_churn_folds_follow_the_documented_scheme(ids):
    expected = _reference_folds(ids.tolist(), [0] * len(ids), 4, lambda cid: f"13:{cid}")
    assert cv._fold_of(ids, 4, 13).tolist() == expected
    assert cv._fold_of(ids.astype(object), 4, 13).tolist() == expected
    assert np.bincount(expected).tolist() == [250, 249, 249, 249]


def test_deal_folds_breaks_ties_by_the_later_keys():
    fold = deal_folds({"digest": np.array([5, 5, 1, 5], dtype=np.uint64), "cid": np.array([9, 3, 7, 1])}, 2)
    # order: (1,7) (5,1) (5,3) (5,9) -> positions 2, 3, 1, 0
    assert fold.tolist() == [1, 0, 0, 1]


def test_uplift_folds_repeated_in_another_row_order_are_the_same(ids):
    """assign_folds keeps its last integer dealing: a second call with the rows shuffled must still give each
    customer the fold of the documented scheme, and other ids or arms must not be served from it."""
    arms = (np.arange(len(ids)) % 4 == 0).astype(int)
    expected = np.array(_reference_folds(ids.tolist(), arms.tolist(), 5, str, key=b"42"))
    assert um.assign_folds(ids, arms, 5, 42).tolist() == expected.tolist()
    order = np.random.default_rng(1).permutation(len(ids))
    assert um.assign_folds(ids[order], arms[order], 5, 42).tolist() == expected[order].tolist()
    flipped = arms.copy()
    flipped[:10] = 1 - flipped[:10]
    assert um.assign_folds(ids, flipped, 5, 42).tolist() == _reference_folds(ids.tolist(), flipped.tolist(), 5,
                                                                             str, key=b"42")
    assert um.assign_folds(ids + 1, arms, 5, 42).tolist() == _reference_folds((ids + 1).tolist(), arms.tolist(), 5,
                                                                              str, key=b"42")


def test_blake2b_64_prefix_is_hashed_before_each_text(ids):
    """The prefix, hashed once and copied, gives the digests of the joined texts, written out with hashlib."""
    for prefix, key in ((b"", b"42"), (b"13:", b""), (b"7:", b"7")):
        texts = [str(value) for value in ids.tolist()]
        expected = [int(hashlib.blake2b(prefix + text.encode(), digest_size=8, key=key).hexdigest(), 16)
                    for text in texts]
        assert blake2b_64(texts, key=key, prefix=prefix).tolist() == expected
        assert blake2b_64(iter(texts), key=key, prefix=prefix).tolist() == expected
    assert blake2b_64([]).dtype == np.uint64


def test_deal_folds_with_integer_keys_deals_as_the_pandas_sort():
    """Integer keys take numpy's lexsort; other keys pandas' stable sort: the same order, ties included."""
    rng = np.random.default_rng(2)
    for n in (0, 1, 5, 300):
        keys = {"t": rng.integers(0, 2, n), "digest": rng.integers(0, 4, n).astype(np.uint64),
                "cid": rng.integers(-3, 3, n)}
        frame = pd.DataFrame(keys).assign(pos=np.arange(n))
        order = frame.sort_values(list(keys), kind="mergesort")["pos"].to_numpy()
        expected = np.empty(n, dtype=np.int64)
        expected[order] = np.arange(n) % 3
        assert deal_folds(keys, 3).tolist() == expected.tolist()
        as_objects = {**keys, "cid": keys["cid"].astype(object)}
        assert deal_folds(as_objects, 3).tolist() == expected.tolist()
