#!/usr/bin/env python3
"""Minimax polynomial coefficients for kernels/common/vecmath.h (Remez exchange, mpmath).

Each function is split as   f = leading terms + x^k · P(z)   and P is fitted on the reduced
range in the variable z (t² for sin/cos, s² for log, r for exp), minimising the absolute error
of P. Prints the coefficients (lowest degree first, as doubles) and the error of P with the
coefficients rounded to double. Run: python3 scripts/fit-vecmath-polys.py
"""
import mpmath as mp

mp.mp.dps = 50
TWO_PI = 2 * mp.pi


def sin_tail(z):  # sin 2πt = 2πt + t·z·P(z), z = t², |t| <= 1/8
    if z == 0:
        return -TWO_PI**3 / 6
    t = mp.sqrt(z)
    return (mp.sin(TWO_PI * t) / t - TWO_PI) / z


def cos_tail(z):  # cos 2πt = 1 + z·P(z)
    if z == 0:
        return -TWO_PI**2 / 2
    return (mp.cos(TWO_PI * mp.sqrt(z)) - 1) / z


def log_tail(z):  # 2 atanh(s) = 2s + s·z·P(z), z = s², |s| <= 3 − 2√2
    if z == 0:
        return mp.mpf(2) / 3
    s = mp.sqrt(z)
    return (2 * mp.atanh(s) / s - 2) / z


def exp_tail(r):  # e^r = 1 + r + r²·P(r), |r| <= ln2/2 (+ slack for the rounded n)
    if r == 0:
        return mp.mpf(1) / 2
    return (mp.exp(r) - 1 - r) / r**2


def remez(f, a, b, deg, iters=40, grid_n=4000):
    n = deg + 2
    xs = [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * i / (n - 1)) for i in range(n)]
    grid = [a + (b - a) * k / grid_n for k in range(grid_n + 1)]
    for _ in range(iters):
        A = mp.matrix(n, n)
        y = mp.matrix(n, 1)
        for i, x in enumerate(xs):
            for j in range(deg + 1):
                A[i, j] = x**j
            A[i, deg + 1] = (-1) ** i
            y[i] = f(x)
        sol = mp.lu_solve(A, y)
        c = [sol[j] for j in range(deg + 1)]
        vals = [f(x) - sum(c[j] * x**j for j in range(deg + 1)) for x in grid]
        # Local extrema of the error, then an alternating subset of size n.
        ext = [(grid[k], vals[k]) for k in range(len(grid))
               if k in (0, len(grid) - 1) or (vals[k] - vals[k - 1]) * (vals[k + 1] - vals[k]) <= 0]
        alt = []
        for x, v in ext:
            if alt and mp.sign(alt[-1][1]) == mp.sign(v):
                if abs(v) > abs(alt[-1][1]):
                    alt[-1] = (x, v)
            else:
                alt.append((x, v))
        while len(alt) > n:
            alt.pop(0 if abs(alt[0][1]) < abs(alt[-1][1]) else -1)
        if len(alt) < n:
            break
        xs = [x for x, _ in alt]
    return c


def report(name, f, a, b, deg):
    c = [float(v) for v in remez(f, mp.mpf(a), mp.mpf(b), deg)]
    grid = [mp.mpf(a) + (mp.mpf(b) - a) * k / 3000 for k in range(3001)]
    err = max(abs(f(x) - sum(mp.mpf(c[j]) * x**j for j in range(deg + 1))) for x in grid)
    print(f'{name}: degree {deg} on [{mp.nstr(a, 6)}, {mp.nstr(b, 6)}], max |error| {mp.nstr(err, 3)}')
    for j, v in enumerate(c):
        print(f'  c{j} = {v!r}')


report('sin 2πt tail P(t²)', sin_tail, 0, mp.mpf(1) / 64, 5)
report('cos 2πt tail P(t²)', cos_tail, 0, mp.mpf(1) / 64, 6)
report('log tail P(s²)', log_tail, 0, (3 - 2 * mp.sqrt(2)) ** 2, 6)
report('exp tail P(r)', exp_tail, -0.3466, 0.3466, 10)
