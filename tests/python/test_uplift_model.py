"""scripts/uplift_model.py: hand-worked Qini / AUUC / targeting examples, a simulated randomised campaign with a
known per-customer effect, cross-fitting hygiene (no self-leakage, order independence) and input validation."""

from __future__ import annotations

import decimal

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import uplift_model as um

FEATURES = ["segment", "region", "x1", "x2", "z0", "z1", "z2", "z3", "z4", "z5"]
CATEGORICAL = ["segment", "region"]
CROSS_FIT_OUTPUT = ["customer_id", "fold", "predicted_outcome_treated", "predicted_outcome_control",
                    "predicted_uplift"]


def simulate(n: int, p: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """A randomised campaign with a known effect: +0.25 * x1 on the conversion probability in segment A only
    (0 elsewhere); baseline 0.05 + 0.10 * x2; region and z0..z5 are noise. Treatment share p, ids shuffled.
    `revenue` is conversion times a gamma amount (mean 50), so its true effect is 50 * tau."""
    rng = np.random.default_rng([seed, 1])
    segment = rng.choice(["A", "B", "C"], n, p=[0.3, 0.4, 0.3])
    x1, x2 = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    noise = rng.normal(size=(n, 6))
    tau = np.where(segment == "A", 0.25 * x1, 0.0)
    treated = (rng.uniform(size=n) < p).astype(np.int64)
    converted = (rng.uniform(size=n) < 0.05 + 0.10 * x2 + tau * treated).astype(np.int64)
    frame = pd.DataFrame({"customer_id": rng.permutation(n) + 1, "segment": segment,
                          "region": rng.choice(["north", "south", "east"], n), "x1": x1, "x2": x2,
                          **{f"z{j}": noise[:, j] for j in range(6)}, "treated": treated, "converted": converted})
    frame["revenue"] = converted * rng.gamma(2.0, 25.0, n)
    frame["tau"] = tau
    return frame


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("customer_id").reset_index(drop=True)


# --------------------------------------------------------------------------- hand-worked Qini example
#
# 10 customers, already in descending score order; tied scores form blocks {1}, {2,3}, {4,5,6}, {7}, {8}, {9,10}:
#
#   customer  1    2    3    4    5    6    7    8    9    10
#   score     0.9  0.8  0.8  0.5  0.5  0.5  0.3  0.2  0.1  0.1
#   treated   1    0    1    1    0    1    0    1    0    0
#   outcome   1    0    1    0    1    1    0    0    1    0
#
# cut n  N_t N_c Y_t Y_c   qini = Y_t - Y_c N_t/N_c      uplift = (Y_t/N_t - Y_c/N_c) n
#   0     0   0   0   0    0                              0
#   1     1   0   1   0    1 - 0 = 1  (no control: 0)     (1 - 0) * 1 = 1
#   3     2   1   2   0    2                              (1 - 0) * 3 = 3
#   6     4   2   3   1    3 - 1 * 4/2 = 1                (3/4 - 1/2) * 6 = 3/2
#   7     4   3   3   1    3 - 4/3 = 5/3                  (3/4 - 1/3) * 7 = 35/12
#   8     5   3   3   1    3 - 5/3 = 4/3                  (3/5 - 1/3) * 8 = 32/15
#  10     5   5   3   2    3 - 2 = 1                      (3/5 - 2/5) * 10 = 2
#
# random line: qini(10) * share = share. Trapezoids over shares 0, .1, .3, .6, .7, .8, 1:
#   qini_area = .1(0+1)/2 + .2(1+2)/2 + .3(2+1)/2 + .1(1+5/3)/2 + .1(5/3+4/3)/2 + .2(4/3+1)/2
#             = (3 + 18 + 27 + 8 + 9 + 14) / 60 = 79/60;   random_area = 1/2
#   auuc      = .05 + .4 + .675 + .1(3/2+35/12)/2 + .1(35/12+32/15)/2 + .2(32/15+2)/2
#             = (60 + 480 + 810 + 265 + 303 + 496) / 1200 = 2414/1200 = 1207/600
# Perfect ranking (oracle score y for treated, -y for controls): {1,3,6} (treated responders), then the five
# non-responders {2,4,7,8,10} (tied), then the control responders {5,9}. Its block ends: n=3: qini 3; n=8:
# N_t=5, N_c=3, Y_c=0 -> 3; n=10: 1. At the model's cuts (straight lines across its blocks): 0, 1, 3, 3, 3, 3, 1.
#   perfect_area = .05 + .2(1+3)/2 + .3*3 + .1*3 + .1*3 + .2(3+1)/2 = 2.35
#   qini_coefficient = (79/60 - 1/2) / (2.35 - 1/2) = (49/60) / (37/20) = 49/111

HAND_SCORE = [0.9, 0.8, 0.8, 0.5, 0.5, 0.5, 0.3, 0.2, 0.1, 0.1]
HAND_TREATED = [1, 0, 1, 1, 0, 1, 0, 1, 0, 0]
HAND_OUTCOME = [1, 0, 1, 0, 1, 1, 0, 0, 1, 0]
HAND_REVENUE = [100.0, 0.0, 50.0, 0.0, 80.0, 30.0, 0.0, 0.0, 20.0, 0.0]

HAND_CURVE = pd.DataFrame({
    "share_targeted": [0.0, 0.1, 0.3, 0.6, 0.7, 0.8, 1.0],
    "customers_targeted": [0, 1, 3, 6, 7, 8, 10],
    "treated_targeted": [0, 1, 2, 4, 4, 5, 5],
    "control_targeted": [0, 0, 1, 2, 3, 3, 5],
    "treated_outcome": [0.0, 1, 2, 3, 3, 3, 3],
    "control_outcome": [0.0, 0, 0, 1, 1, 1, 2],
    "qini": [0.0, 1, 2, 1, 5 / 3, 4 / 3, 1],
    "random_qini": [0.0, 0.1, 0.3, 0.6, 0.7, 0.8, 1.0],
    "uplift_curve": [0.0, 1, 3, 1.5, 35 / 12, 32 / 15, 2],
    "perfect_qini": [0.0, 1, 3, 3, 3, 3, 1],
})


def test_qini_curve_hand_example():
    curve = um.qini_curve(HAND_SCORE, HAND_TREATED, HAND_OUTCOME)
    assert list(curve.columns) == list(um.CURVE_COLUMNS)
    pd.testing.assert_frame_equal(curve, HAND_CURVE, check_dtype=False, rtol=1e-12, atol=1e-12)
    for column in ("customers_targeted", "treated_targeted", "control_targeted"):
        assert curve[column].dtype == np.int64


def test_qini_coefficient_hand_example():
    result = um.qini_coefficient(um.qini_curve(HAND_SCORE, HAND_TREATED, HAND_OUTCOME))
    assert result["qini_area"] == pytest.approx(79 / 60, rel=1e-12)
    assert result["random_area"] == pytest.approx(0.5, rel=1e-12)
    assert result["perfect_area"] == pytest.approx(2.35, rel=1e-12)
    assert result["qini_coefficient"] == pytest.approx(49 / 111, rel=1e-12)
    assert result["auuc"] == pytest.approx(1207 / 600, rel=1e-12)
    assert result["random_auuc"] == pytest.approx(1.0, rel=1e-12)        # straight line to uplift(100 %) = 2


def test_ties_move_in_blocks_not_by_row_order():
    rng = np.random.default_rng(3)
    for _ in range(5):
        order = rng.permutation(10)
        curve = um.qini_curve(np.array(HAND_SCORE)[order], np.array(HAND_TREATED)[order],
                              np.array(HAND_OUTCOME)[order])
        pd.testing.assert_frame_equal(curve, um.qini_curve(HAND_SCORE, HAND_TREATED, HAND_OUTCOME))
    # Within the tied block {4, 5, 6}, which customer responds does not matter to the curve at the block's end.
    moved = um.qini_curve(HAND_SCORE, HAND_TREATED, [1, 0, 1, 1, 1, 0, 0, 0, 1, 0])   # treated 4 responds, not 6
    assert moved["qini"].tolist() == pytest.approx(HAND_CURVE["qini"].tolist())
    # All scores tied: one block, the curve is the random line, the coefficient 0.
    flat = um.qini_curve(np.zeros(10), HAND_TREATED, HAND_OUTCOME)
    assert flat["customers_targeted"].tolist() == [0, 10]
    assert um.qini_coefficient(flat)["qini_coefficient"] == 0.0


def test_qini_curve_n_points_keeps_whole_blocks():
    # n_points=2: targets ceil(5) = 5 -> the first block end reaching 5 is 6; then 10.
    curve = um.qini_curve(HAND_SCORE, HAND_TREATED, HAND_OUTCOME, n_points=2)
    assert curve["customers_targeted"].tolist() == [0, 6, 10]
    assert curve["qini"].tolist() == pytest.approx([0.0, 1.0, 1.0])
    assert curve["perfect_qini"].tolist() == pytest.approx([0.0, 3.0, 1.0])
    # Large data: at most n_points + 1 rows, same end point as the full curve.
    frame = simulate(5000, seed=2)
    score = np.round(frame["x1"].to_numpy(), 2)                          # many ties
    full = um.qini_curve(score, frame.treated, frame.converted)
    coarse = um.qini_curve(score, frame.treated, frame.converted, n_points=20)
    assert len(coarse) <= 21 and set(coarse.customers_targeted) <= set(full.customers_targeted)
    assert coarse.iloc[-1].tolist() == full.iloc[-1].tolist()


def test_qini_curve_against_an_independent_pandas_computation():
    rng = np.random.default_rng(11)
    n = 2000
    score = rng.integers(0, 300, n) / 100.0                               # ~7 customers per tied score
    treated = rng.integers(0, 2, n)
    outcome = rng.gamma(1.0, 10.0, n) * (rng.uniform(size=n) < 0.3)
    frame = pd.DataFrame({"s": score, "t": treated, "y": outcome})
    frame["yt"], frame["yc"] = frame.y * frame.t, frame.y * (1 - frame.t)
    blocks = frame.groupby("s").agg(n=("t", "size"), nt=("t", "sum"), yt=("yt", "sum"), yc=("yc", "sum"))
    blocks = blocks.sort_index(ascending=False).cumsum()
    nt, nc, n_cut = blocks.nt.to_numpy(float), (blocks.n - blocks.nt).to_numpy(float), blocks.n.to_numpy(float)
    yt, yc = blocks.yt.to_numpy(), blocks.yc.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = yt - yc * np.where(nc > 0, nt / nc, 0.0)
        uplift = (np.where(nt > 0, yt / nt, 0.0) - np.where(nc > 0, yc / nc, 0.0)) * n_cut
    curve = um.qini_curve(score, treated, outcome)
    assert curve.customers_targeted.tolist() == [0, *blocks.n.tolist()]
    np.testing.assert_allclose(curve.qini.to_numpy()[1:], qini, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(curve.uplift_curve.to_numpy()[1:], uplift, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(curve.random_qini, curve.share_targeted * qini[-1], rtol=1e-12)
    share = np.r_[0.0, n_cut / n]
    result = um.qini_coefficient(curve)
    points = np.r_[0.0, qini]
    assert result["qini_area"] == pytest.approx(float(np.sum(np.diff(share) * (points[1:] + points[:-1]) / 2)))
    assert result["random_area"] == pytest.approx(qini[-1] / 2)


# ---------------------------------------------------------------------- rankings on a known effect


@pytest.fixture(scope="module")
def large() -> pd.DataFrame:
    return simulate(200_000, p=0.5, seed=5)


def test_perfect_ranking_beats_random_and_reversed_is_below(large):
    treated, converted, tau = large.treated, large.converted, large.tau.to_numpy()
    true_rank = um.qini_coefficient(um.qini_curve(tau, treated, converted))
    reversed_rank = um.qini_coefficient(um.qini_curve(-tau, treated, converted))
    oracle = um.qini_coefficient(um.qini_curve(converted * (2 * treated - 1), treated, converted))
    assert true_rank["qini_area"] > true_rank["random_area"] > reversed_rank["qini_area"]
    assert true_rank["qini_coefficient"] > 0.1
    assert reversed_rank["qini_coefficient"] < -0.1
    assert true_rank["auuc"] > true_rank["random_auuc"] > reversed_rank["auuc"]
    assert oracle["qini_coefficient"] == pytest.approx(1.0, rel=1e-12)
    assert true_rank["qini_coefficient"] < 1.0


def test_random_scores_give_a_coefficient_near_zero(large):
    # Scores from their own random stream (not correlated with the simulation's draws). Over seeds the
    # coefficient's spread at this size is about 0.003.
    for seed in (1, 2, 3):
        score = np.random.default_rng([seed, 99]).uniform(size=len(large))
        result = um.qini_coefficient(um.qini_curve(score, large.treated, large.converted))
        assert abs(result["qini_coefficient"]) < 0.02
        assert result["random_area"] > 0


# -------------------------------------------------------------------------------- cross-fitted uplift


CASES = [  # method, treatment share, outcome column
    ("t_learner", 0.5, "converted"),
    ("class_transformation", 0.7, "converted"),       # unbalanced arms: the p correction matters
    ("t_learner", 0.7, "revenue"),                     # regressors for an amount
    ("class_transformation", 0.5, "revenue"),
]


@pytest.mark.parametrize(("method", "p", "outcome"), CASES)
def test_cross_fitted_uplift_recovers_the_planted_effect(method, p, outcome):
    # Established over 5 simulation seeds x these 4 cases at n = 20 000: Spearman 0.63..0.75, Qini coefficient
    # 0.11..0.16 (the true effect itself scores ~0.2), random scores |coefficient| <= 0.03.
    frame = simulate(20_000, p=p, seed=1)
    scored = um.cross_fitted_uplift(frame, FEATURES, "treated", outcome, method=method, categorical=CATEGORICAL)
    truth = by_id(frame)
    assert scored.customer_id.tolist() == truth.customer_id.tolist()
    ranks = um.uplift_rank_correlation(scored.predicted_uplift, truth.tau)
    assert ranks["spearman"] > 0.5 and ranks["kendall"] > 0.35
    result = um.qini_coefficient(um.qini_curve(scored.predicted_uplift, truth.treated, truth[outcome]))
    assert result["qini_coefficient"] > 0.06
    # The segment with the effect is ranked above the others on average.
    mean_by_segment = scored.predicted_uplift.groupby(truth.segment).mean()
    assert mean_by_segment["A"] > max(mean_by_segment["B"], mean_by_segment["C"])


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return simulate(3000, p=0.6, seed=4)


def test_output_format(small):
    for method in um.METHODS:
        scored = um.cross_fitted_uplift(small, FEATURES, "treated", "converted", method=method,
                                        categorical=CATEGORICAL, folds=4)
        assert list(scored.columns) == CROSS_FIT_OUTPUT
        assert scored.customer_id.tolist() == sorted(small.customer_id)
        assert scored.customer_id.dtype == small.customer_id.dtype and scored.fold.dtype == np.int64
        assert set(scored.fold) == {0, 1, 2, 3}
        assert scored.predicted_uplift.notna().all()
        if method == "t_learner":
            assert scored.predicted_outcome_treated.between(0, 1).all()
            assert scored.predicted_outcome_control.between(0, 1).all()
            np.testing.assert_array_equal(
                scored.predicted_uplift,
                um.round_significant(scored.predicted_outcome_treated - scored.predicted_outcome_control))
        else:
            assert scored.predicted_outcome_treated.isna().all() and scored.predicted_outcome_control.isna().all()
        np.testing.assert_array_equal(scored.predicted_uplift, um.round_significant(scored.predicted_uplift))


def test_folds_are_stratified_balanced_and_depend_only_on_id_arm_and_seed(small):
    folds = um.assign_folds(small.customer_id, small.treated, folds=5, seed=42)
    assert np.ptp(np.bincount(folds)) <= 1
    for arm in (0, 1):
        assert np.ptp(np.bincount(folds[small.treated.to_numpy() == arm])) <= 1
    order = np.random.default_rng(0).permutation(len(small))
    shuffled = um.assign_folds(small.customer_id.to_numpy()[order], small.treated.to_numpy()[order], 5, 42)
    np.testing.assert_array_equal(shuffled, folds[order])
    assert not np.array_equal(um.assign_folds(small.customer_id, small.treated, 5, 7), folds)
    # The same id as int or as an integral float lands in the same fold.
    np.testing.assert_array_equal(um.assign_folds(small.customer_id.astype(float), small.treated, 5, 42), folds)


@pytest.mark.parametrize("method", um.METHODS)
def test_no_self_leakage(small, method):
    base = um.cross_fitted_uplift(small, FEATURES, "treated", "converted", method=method, categorical=CATEGORICAL)
    customer = int(small.customer_id.iloc[17])
    changed = small.copy()
    changed.loc[changed.customer_id == customer, "converted"] = 1 - changed.loc[changed.customer_id == customer,
                                                                                 "converted"]
    again = um.cross_fitted_uplift(changed, FEATURES, "treated", "converted", method=method,
                                   categorical=CATEGORICAL)
    pd.testing.assert_series_equal(again.fold, base.fold)
    own = base.customer_id == customer
    own_fold = base.fold == int(base.fold[own].iloc[0])
    pd.testing.assert_frame_equal(again[own], base[own])
    pd.testing.assert_frame_equal(again[own_fold], base[own_fold])           # its whole fold, in fact
    assert not again[~own_fold].predicted_uplift.equals(base[~own_fold].predicted_uplift)  # the change was seen

    # Rewriting every outcome of fold 0 changes nothing in fold 0 (and everything is refitted elsewhere).
    fold0 = set(base.customer_id[base.fold == 0])
    rewritten = small.copy()
    rows = rewritten.customer_id.isin(fold0)
    rewritten.loc[rows, "converted"] = np.random.default_rng(1).integers(0, 2, int(rows.sum()))
    third = um.cross_fitted_uplift(rewritten, FEATURES, "treated", "converted", method=method,
                                   categorical=CATEGORICAL)
    pd.testing.assert_frame_equal(third[base.fold == 0], base[base.fold == 0])


@pytest.mark.parametrize("method", um.METHODS)
def test_identical_under_row_shuffling_and_across_runs(small, method):
    kwargs = dict(method=method, categorical=CATEGORICAL, seed=3)
    first = um.cross_fitted_uplift(small, FEATURES, "treated", "revenue", **kwargs)
    second = um.cross_fitted_uplift(small, FEATURES, "treated", "revenue", **kwargs)
    shuffled_rows = small.sample(frac=1.0, random_state=8)[list(reversed(small.columns))]
    third = um.cross_fitted_uplift(shuffled_rows, FEATURES, "treated", "revenue", **kwargs)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    pd.testing.assert_frame_equal(first, third, check_exact=True)


def test_categories_sorted_unseen_and_missing_are_zero():
    categories, codes = um._category_codes(pd.Series(["b", None, "a", "c", np.nan, 3, "3"], dtype=object))
    assert categories == ["3", "a", "b", "c"]                 # 3 and "3" are the same text
    assert codes.tolist() == [2, -1, 1, 3, -1, 0, 0]
    present = um._present(codes[:3])                           # "c" and "3" are unseen in training
    assert [categories[i] for i in present] == ["a", "b"]
    np.testing.assert_array_equal(um._one_hot(codes, present),
                                  [[0, 1], [0, 0], [1, 0], [0, 0], [0, 0], [0, 0], [0, 0]])
    floats = um._category_codes(pd.Series([2.0, np.nan, 1.5]))
    assert floats[0] == ["1.5", "2.0"] and floats[1].tolist() == [1, -1, 0]
    # The present codes, counted, are the sorted distinct codes (missing left out), as np.unique gives them.
    random_codes = np.random.default_rng(4).integers(-1, 40, size=(50, 30))
    for row in random_codes:
        present = um._present(row)
        assert present.dtype == np.int64 and present.tolist() == np.unique(row[row >= 0]).tolist()
    assert um._present(np.array([-1, -1], dtype=np.int64)).tolist() == []


def test_rare_categories_missing_values_and_decimals_are_handled(small):
    frame = small.copy()
    frame.loc[frame.index[:1], "segment"] = "only_one"          # in one fold only: unseen by the model scoring it
    frame.loc[frame.index[1:40], "region"] = None
    frame.loc[frame.index[40:90], "x2"] = np.nan                 # numeric NaN: handled by the gradient boosting
    frame["x1"] = [decimal.Decimal(str(round(v, 6))) for v in frame.x1]    # as DuckDB returns DECIMAL
    frame["treated"] = frame.treated.astype(bool)
    for method in um.METHODS:
        scored = um.cross_fitted_uplift(frame, FEATURES, "treated", "converted", method=method,
                                        categorical=CATEGORICAL)
        assert scored.predicted_uplift.notna().all() and len(scored) == len(frame)


# ---------------------------------------------------------------------------------------- targeting


# Hand example (the Qini example above, revenue per converting customer 1: 100, 3: 50, 5: 80, 6: 30, 9: 20;
# margin rate 0.4, contact cost 0.5). Overall: treated conversion 3/5, control 2/5 -> +0.2 per customer;
# treated revenue 180/5 = 36, control 100/5 = 20 -> +16 per customer.
#   share 0.1: 1 customer (customer 1, treated only): no control -> NaN estimates; random 0.2, 16, 6.4
#   share 0.3: customers 1-3: treated {1, 3} convert 2/2, revenue 75; control {2}: 0, 0
#              incremental conversions (1 - 0) * 3 = 3, revenue 75 * 3 = 225, margin 90, cost 1.5, net 88.5
#              random: 0.2 * 3 = 0.6, 16 * 3 = 48, margin 19.2, net 17.7
#   share 0.5: 5 customers wanted, the tie block {4, 5, 6} makes it 6: treated {1, 3, 4, 6} 3/4, revenue 45;
#              control {2, 5} 1/2, revenue 40 -> conversions 0.25 * 6 = 1.5, revenue 5 * 6 = 30, margin 12,
#              cost 3, net 9; random 1.2, 96, 38.4, net 35.4
#   share 1.0: (0.6 - 0.4) * 10 = 2, 16 * 10 = 160, margin 64, cost 5, net 59; random the same.
def test_targeting_table_hand_example():
    table = um.targeting_table(HAND_SCORE, HAND_TREATED, HAND_OUTCOME, HAND_REVENUE, margin_rate=0.4,
                               contact_cost=0.5, shares=(0.1, 0.3, 0.5, 1.0))
    assert table.customers.tolist() == [1, 3, 6, 10]
    assert table.treated.tolist() == [1, 2, 4, 5] and table.control.tolist() == [0, 1, 2, 5]
    expected = {
        "incremental_conversions": [np.nan, 3.0, 1.5, 2.0],
        "incremental_revenue": [np.nan, 225.0, 30.0, 160.0],
        "incremental_margin": [np.nan, 90.0, 12.0, 64.0],
        "contact_cost": [0.5, 1.5, 3.0, 5.0],
        "net_margin": [np.nan, 88.5, 9.0, 59.0],
        "random_incremental_conversions": [0.2, 0.6, 1.2, 2.0],
        "random_incremental_revenue": [16.0, 48.0, 96.0, 160.0],
        "random_incremental_margin": [6.4, 19.2, 38.4, 64.0],
        "random_net_margin": [5.9, 17.7, 35.4, 59.0],
        "treated_conversion_rate": [1.0, 1.0, 0.75, 0.6],
        "control_conversion_rate": [np.nan, 0.0, 0.5, 0.4],
    }
    for column, values in expected.items():
        np.testing.assert_allclose(table[column], values, rtol=1e-12, err_msg=column)


def test_targeting_table_on_simulated_data(large):
    frame = large.iloc[:50_000]
    score = frame.tau.to_numpy() + np.random.default_rng([4, 99]).normal(0, 0.02, len(frame))
    margin_rate, cost = 0.35, 0.8
    table = um.targeting_table(score, frame.treated, frame.converted, frame.revenue, margin_rate, cost)
    assert table.share.tolist() == pytest.approx([0.1 * k for k in range(1, 11)])
    # At 100 %: the overall difference of rates times N, computed independently.
    treated, control = frame[frame.treated == 1], frame[frame.treated == 0]
    n = len(frame)
    last = table.iloc[-1]
    assert last.customers == n
    assert last.incremental_conversions == pytest.approx((treated.converted.mean() - control.converted.mean()) * n)
    assert last.incremental_revenue == pytest.approx((treated.revenue.mean() - control.revenue.mean()) * n)
    assert last.incremental_margin == pytest.approx(last.incremental_revenue * margin_rate)
    assert last.incremental_conversions == pytest.approx(last.random_incremental_conversions)
    # Cost, monotone shares, random targeting proportional to the group size.
    np.testing.assert_allclose(table.contact_cost, table.customers * cost)
    np.testing.assert_allclose(table.net_margin, table.incremental_margin - table.contact_cost)
    assert table.customers.tolist() == [round(0.1 * k * n) for k in range(1, 11)]     # no ties in these scores
    assert table.customers.is_monotonic_increasing and table.contact_cost.is_monotonic_increasing
    np.testing.assert_allclose(table.random_incremental_conversions / table.customers,
                               last.incremental_conversions / n)
    # A good ranking: the top 30 % bring more incremental conversions than random targeting of as many.
    top = table.iloc[2]
    assert top.incremental_conversions > 1.5 * top.random_incremental_conversions
    # A per-customer margin rate equal to the scalar gives the same table.
    per_customer = um.targeting_table(score, frame.treated, frame.converted, frame.revenue,
                                      np.full(n, margin_rate), cost)
    pd.testing.assert_frame_equal(per_customer, table, rtol=1e-12)


# -------------------------------------------------------------------------------------- rank correlation


def test_uplift_rank_correlation_matches_scipy():
    rng = np.random.default_rng(6)
    truth = np.round(rng.uniform(size=500), 1)
    predicted = truth + rng.normal(0, 0.2, 500)
    result = um.uplift_rank_correlation(predicted, truth)
    assert result["spearman"] == pytest.approx(stats.spearmanr(predicted, truth).statistic)
    assert result["kendall"] == pytest.approx(stats.kendalltau(predicted, truth).statistic)
    assert result["n"] == 500 and result["spearman_pvalue"] < 1e-10
    assert np.isnan(um.uplift_rank_correlation(np.ones(5), np.arange(5))["spearman"])


# ------------------------------------------------------------------------------------------ validation


def test_cross_fitted_uplift_input_validation(small):
    def fit(frame, **kwargs):
        args = dict(features=FEATURES, treatment_col="treated", outcome_col="converted", categorical=CATEGORICAL)
        args.update(kwargs)
        return um.cross_fitted_uplift(frame, **args)

    with pytest.raises(ValueError, match=r"missing column\(s\) \['x9'\]"):
        fit(small, features=[*FEATURES, "x9"])
    with pytest.raises(ValueError, match="missing column"):
        fit(small.drop(columns="treated"))
    bad = small.copy()
    bad.loc[bad.index[5], "treated"] = 2
    with pytest.raises(ValueError, match=r"0/1 only; found other values \[2.0\]"):
        fit(bad)
    text = small.assign(treated=np.where(small.treated == 1, "yes", "no"))
    with pytest.raises(ValueError, match="must be 0/1"):
        fit(text)
    missing_outcome = small.copy()
    missing_outcome.loc[missing_outcome.index[3], "converted"] = np.nan
    with pytest.raises(ValueError, match=r"outcome column 'converted' has 1 missing"):
        fit(missing_outcome)
    with pytest.raises(ValueError, match="has no control customers"):          # 3 controls for 5 folds
        fit(small.assign(treated=np.r_[0, 0, 0, np.ones(len(small) - 3, dtype=int)]))
    with pytest.raises(ValueError, match="has no treated customers"):
        fit(small.assign(treated=0))
    with pytest.raises(ValueError, match="duplicated"):
        fit(small.assign(customer_id=1))
    with pytest.raises(ValueError, match="method must be one of"):
        fit(small, method="s_learner")
    with pytest.raises(ValueError, match="not in features"):
        fit(small, categorical=["segment", "treated"])
    with pytest.raises(ValueError, match="cannot be used as features"):
        fit(small, features=[*FEATURES, "converted"])
    with pytest.raises(ValueError, match="infinite"):
        fit(small.assign(x1=np.inf))
    with pytest.raises(ValueError, match="must be numeric"):
        fit(small, categorical=["region"])                                    # segment left as numeric
    with pytest.raises(ValueError, match="folds must be >= 2"):
        fit(small, folds=1)
    with pytest.raises(ValueError, match="params cannot set"):
        fit(small, params={"random_state": 1})
    with pytest.raises(ValueError, match="outcome_type='binary'"):
        fit(small, outcome_col="revenue", outcome_type="binary")


def test_curve_and_table_input_validation():
    with pytest.raises(ValueError, match="different lengths"):
        um.qini_curve(HAND_SCORE[:-1], HAND_TREATED, HAND_OUTCOME)
    with pytest.raises(ValueError, match="both treated and control"):
        um.qini_curve(HAND_SCORE, np.ones(10), HAND_OUTCOME)
    with pytest.raises(ValueError, match="missing"):
        um.qini_curve([np.nan, *HAND_SCORE[1:]], HAND_TREATED, HAND_OUTCOME)
    with pytest.raises(ValueError, match="0/1"):
        um.qini_curve(HAND_SCORE, [2, *HAND_TREATED[1:]], HAND_OUTCOME)
    with pytest.raises(ValueError, match="missing"):
        um.targeting_table(HAND_SCORE, HAND_TREATED, HAND_OUTCOME, [np.nan, *HAND_REVENUE[1:]], 0.4, 0.5)
    with pytest.raises(ValueError, match=r"shares must be in \(0, 1\]"):
        um.targeting_table(HAND_SCORE, HAND_TREATED, HAND_OUTCOME, HAND_REVENUE, 0.4, 0.5, shares=(0.0, 0.5))
    with pytest.raises(ValueError, match="contact_cost must be >= 0"):
        um.targeting_table(HAND_SCORE, HAND_TREATED, HAND_OUTCOME, HAND_REVENUE, 0.4, -1.0)
    with pytest.raises(ValueError, match="missing column"):
        um.qini_coefficient(HAND_CURVE.drop(columns="perfect_qini"))


def test_skip_reason_counts_arms_and_checks_every_fold():
    """None when every fold can hold both arms; otherwise the reason, first the arm sizes, then the folds."""
    ids = np.arange(200)
    assert um.skip_reason(ids, np.r_[np.ones(100), np.zeros(100)], folds=5, seed=42) is None
    few = um.skip_reason(ids[:149], np.r_[np.ones(100), np.zeros(49)], folds=5, seed=42)
    assert few == "skipped: 100 treated and 49 control customers; each arm needs at least 50"
    # With a lower minimum, 3 control customers in 5 folds leave two folds without a control.
    sparse = um.skip_reason(ids[:103], np.r_[np.ones(100), np.zeros(3)], folds=5, seed=42, min_arm_customers=3)
    assert sparse == "skipped: fold 3 of 5 lacks a treated or a control customer"
    fold = um.assign_folds(ids[:103], np.r_[np.ones(100), np.zeros(3)], folds=5, seed=42)
    assert sorted(set(fold[100:].tolist())) == [0, 1, 2]  # the dealt controls: folds 3 and 4 have none
    assert um.skip_reason([str(i) for i in ids], [True, False] * 100, folds=5, seed=42) is None
    with pytest.raises(ValueError, match="0/1"):
        um.skip_reason(ids[:3], [0, 1, 2])


def test_uplift_ranks_by_hand():
    """Highest uplift first, ties in input order; deciles of sizes within one."""
    rank, decile = um.uplift_ranks([0.1, 0.3, 0.1, -0.2, 0.3])
    assert rank.tolist() == [3, 1, 4, 5, 2]
    assert decile.tolist() == [5, 1, 7, 9, 3]  # (rank - 1) * 10 // 5 + 1
    rank, decile = um.uplift_ranks(np.linspace(1, 0, 23))
    assert rank.tolist() == list(range(1, 24))
    sizes = np.bincount(decile)[1:]
    assert len(sizes) == 10 and sizes.max() - sizes.min() <= 1 and sizes.sum() == 23
    # Decile d holds the ranks ceil((d - 1) N / 10) + 1 .. ceil(d N / 10).
    for d in range(1, 11):
        expected = set(range(-(-(d - 1) * 23 // 10) + 1, -(-d * 23 // 10) + 1))
        assert set(rank[decile == d].tolist()) == expected


def test_evaluation_rows_carry_the_curve_keys_sizes_and_a_note_when_undefined():
    score, t, y = [0.9, 0.5, 0.4, 0.1], [1, 0, 1, 0], [1, 0, 0, 0]
    rows = um.evaluation_rows(score, t, y, {"campaign_id": "c", "arm": "email"}, None, "conversions")
    curve = um.qini_curve(score, t, y)
    assert rows["point"].tolist() == list(range(len(curve)))
    assert rows["treated_conversions"].tolist() == curve["treated_outcome"].tolist()
    assert rows["control_conversions"].tolist() == curve["control_outcome"].tolist()
    assert set(rows["campaign_id"]) == {"c"} and set(rows["arm"]) == {"email"}
    assert set(rows["treated_customers"]) == {2} and set(rows["control_customers"]) == {2}
    assert set(rows["qini_coefficient"]) == {um.qini_coefficient(curve)["qini_coefficient"]}
    assert not rows["is_skipped"].any() and rows["note"].isna().all()

    none = um.evaluation_rows(score, t, [0, 0, 0, 0], {"arm": "sms"}, None, "successes")
    assert none["note"].iloc[0] == ("qini coefficient undefined: the perfect curve is not above random "
                                    "(e.g. no successes)")
    skipped = um.skipped_evaluation_row([True, True, False], {"arm": "sms"}, "skipped: why")
    assert skipped.to_dict("records") == [{"arm": "sms", "treated_customers": 2, "control_customers": 1,
                                           "is_skipped": True, "note": "skipped: why"}]
