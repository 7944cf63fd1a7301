#!/usr/bin/env python3
"""Fits the Chebyshev series of cnn-runtime/src/layers/activation/erf.rs.

erf is evaluated in f64 on three pieces, each a smooth function that a short
Chebyshev series fits to ~1e-11 relative (well below f32's 6e-8):

  |x| <= 1        erf(x)  = x * A(u),             u = x^2 in [0, 1]
  1 < x <= 2.5    erfc(x) = exp(-x^2) * B(x)
  x > 2.5         erfc(x) = exp(-x^2) / x * T(w), w = 1 / x in (0, 0.4]

The targets come from Python's math.erf / math.erfc (double precision);
T(0) is the asymptotic limit 1 / sqrt(pi). Run with any Python that has
numpy and paste the printed arrays into erf.rs:

    /root/.venvs/torch/bin/python scripts/fit_erf.py
"""
import math

import numpy as np
from numpy.polynomial import chebyshev as C


def fit(f, a, b, deg, n=4000):
    k = np.arange(n)
    t = np.cos(np.pi * (k + 0.5) / n)
    x = (t + 1) / 2 * (b - a) + a
    c = C.chebfit(t, np.array([f(v) for v in x]), deg)
    xs = np.linspace(a, b, 40001)
    ys = np.array([f(v) for v in xs])
    err = np.max(np.abs(C.chebval((2 * xs - (a + b)) / (b - a), c) - ys) / np.abs(ys))
    return c, err


def a_fn(u):
    if u == 0:
        return 2 / math.sqrt(math.pi)
    return math.erf(math.sqrt(u)) / math.sqrt(u)


def b_fn(x):
    return math.erfc(x) * math.exp(x * x)


def t_fn(w):
    if w == 0:
        return 1 / math.sqrt(math.pi)
    x = 1 / w
    if x > 25:
        # erfc's asymptotic series: exp(x^2) erfc(x) overflows below here.
        s, t = 1.0, 1.0
        for k in range(1, 10):
            t *= -(2 * k - 1) / (2 * x * x)
            s += t
        return s / math.sqrt(math.pi)
    return x * math.erfc(x) * math.exp(x * x)


def emit(name, c, err):
    print(f"// max relative error {err:.1e}")
    print(f"const {name}: [f64; {len(c)}] = [")
    for v in c:
        print(f"    {float(v)!r},")
    print("];")


emit("A", *fit(a_fn, 0.0, 1.0, 8))
emit("B", *fit(b_fn, 1.0, 2.5, 12))
emit("T", *fit(t_fn, 0.0, 0.4, 11))
