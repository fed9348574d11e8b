"""Rounding to a fixed number of significant digits, in bulk.

The clusters and the uplift models round what they publish to 10 significant digits: the last bits of a
floating-point fit depend on the order of its sums (the thread count, the BLAS), and rounding keeps the
published tables byte-identical between runs and machines.
"""

from __future__ import annotations

import numpy as np

SIGNIFICANT_DIGITS = 10


def _round_significant_exact(values: np.ndarray, digits: int) -> np.ndarray:
    spec = f".{digits - 1}e"
    return np.array([float(format(value, spec)) for value in values], dtype="float64")


def round_significant(values: object, digits: int = SIGNIFICANT_DIGITS) -> np.ndarray | float:
    """Rounds to `digits` significant digits (the nearest float to the decimal); NaN and inf pass through.

    The definition is float(format(value, ".{digits-1}e")), Python's correctly rounded conversion (ties of the
    exact binary value to even). It is computed in bulk: m = |value| * 10**(digits-1-e) (e = the decimal
    exponent) is one correctly rounded multiplication or division by an exact power of ten, so it is within
    half an ulp (< 1e-6 for m < 1e10) of the exact product; when m lies in [10**(digits-1), 10**digits) and its
    fraction is not within 1e-4 of one half, rint(m) is the digits the decimal rounding keeps, and one more
    correctly rounded operation by the exact power of ten gives the nearest float to the decimal. Every other
    value but zero (NaN, inf, an exponent outside the exact powers of ten, a near tie) goes through format().
    """
    array = np.asarray(values, dtype="float64")
    flat = array.ravel()
    result = np.empty_like(flat)
    magnitude = np.abs(flat)
    fast = np.isfinite(flat) & (magnitude > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        exponent = np.where(fast, np.floor(np.log10(np.where(fast, magnitude, 1.0))), 0.0).astype("int64")
        shift = digits - 1 - exponent  # m = magnitude * 10**shift
        fast &= np.abs(shift) <= 22  # 10**22 is the largest exactly representable power of ten
        power = 10.0 ** np.abs(np.where(fast, shift, 0)).astype("float64")
        scaled = np.where(shift >= 0, magnitude * power, magnitude / power)
        fast &= (scaled >= 10.0 ** (digits - 1)) & (scaled < 10.0**digits)
        kept = np.rint(scaled)
        fast &= np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) > 1e-4
        rounded = np.where(shift >= 0, kept / power, kept * power)
    result[fast] = np.copysign(rounded[fast], flat[fast])
    zero = flat == 0  # 0.0 and -0.0 are their own rounding (a model that predicts a constant gives millions)
    result[zero] = flat[zero]
    slow = ~(fast | zero)
    if slow.any():
        result[slow] = _round_significant_exact(flat[slow], digits)
    result = result.reshape(array.shape)
    return float(result) if np.ndim(values) == 0 else result
