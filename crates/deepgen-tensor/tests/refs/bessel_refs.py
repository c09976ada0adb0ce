"""Reference values for crates/deepgen-tensor/tests/bessel.rs (and the Debye
coefficient tables in src/numerics/host/bessel.rs).

Run with mpmath 1.4.1 (Python 3.11):  python bessel_refs.py > out.rs
and paste the printed arrays. All values are mpmath at mp.dps = 50, rounded
once to f64 with float(); x values are printed with repr(), so Rust parses
exactly the f64 the reference was computed at.
"""
import math
from fractions import Fraction as F

import mpmath as mp

mp.mp.dps = 50

M_GRID = [2, 3, 4, 5, 10, 11, 32, 50, 100, 256, 500, 1000]
K_GRID = [1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5]


def log_i(nu, x):
    return mp.log(mp.besseli(nu, x))


def ratio(nu, x):
    return mp.besseli(nu + 1, x) / mp.besseli(nu, x)


def vmf_log_c(m, k):
    nu = mp.mpf(m) / 2 - 1
    return nu * mp.log(k) - mp.mpf(m) / 2 * mp.log(2 * mp.pi) - log_i(nu, k)


def r(v):
    return repr(float(v))


def grid():
    print("/// (m, κ, ln I_{m/2-1}(κ), A_m(κ), ln C_m(κ)), `bessel_refs.py::grid`.")
    print("const GRID: [(usize, f64, f64, f64, f64); %d] = [" % (len(M_GRID) * len(K_GRID)))
    for m in M_GRID:
        nu = mp.mpf(m) / 2 - 1
        for k in K_GRID:
            x = mp.mpf(k)
            print("    (%d, %s, %s, %s, %s)," % (m, r(k), r(log_i(nu, x)), r(ratio(nu, x)), r(vmf_log_c(m, x))))
    print("];")


def nonint():
    nus = [0.3, 1.7, 2.7, 12.25, 29.99, 30.5, 75.25, 333.3]
    xs = [1e-3, 0.5, 7.0, 60.0, 2500.0]
    print("/// (ν, x, ln I_ν(x), I_{ν+1}(x)/I_ν(x)) at non-integer orders, `bessel_refs.py::nonint`.")
    print("const NONINT: [(f64, f64, f64, f64); %d] = [" % (len(nus) * len(xs)))
    for nu in nus:
        for x in xs:
            print("    (%s, %s, %s, %s)," % (r(nu), r(x), r(log_i(mp.mpf(nu), x)), r(ratio(mp.mpf(nu), x))))
    print("];")


def switches():
    # Series <-> recurrence switch at x = sqrt(64 (nu + 1)) for nu < 30: the
    # f64 neighbours on either side. Then the order switch at nu = 30.
    rows = []
    for nu in [0.0, 0.5, 1.0, 2.5, 4.0, 10.0, 20.0, 29.0, 29.75]:
        xs = math.sqrt(64.0 * (nu + 1.0))
        for x in [math.nextafter(xs, 0.0), math.nextafter(xs, math.inf)]:
            rows.append((nu, x))
    for nu in [math.nextafter(30.0, 0.0), 30.0]:
        for x in [1e-3, 5.0, 44.0, 100.0]:
            rows.append((nu, x))
    print("/// (ν, x, ln I_ν(x), I_{ν+1}(x)/I_ν(x)) just below/above each switch point, `bessel_refs.py::switches`.")
    print("const SWITCHES: [(f64, f64, f64, f64); %d] = [" % len(rows))
    for nu, x in rows:
        print("    (%s, %s, %s, %s)," % (r(nu), r(x), r(log_i(mp.mpf(nu), x)), r(ratio(mp.mpf(nu), x))))
    print("];")


def vmf_limit():
    print("/// (m, -ln|S^{m-1}| = lgamma(m/2) - ln 2 - (m/2) ln π), the κ → 0 limit of ln C_m(κ), `bessel_refs.py::vmf_limit`.")
    print("const VMF_LIMIT: [(usize, f64); %d] = [" % len(M_GRID))
    for m in M_GRID:
        h = mp.mpf(m) / 2
        print("    (%d, %s)," % (m, r(mp.loggamma(h) - mp.log(2) - h * mp.log(mp.pi))))
    print("];")


def debye_tables():
    """u_k (DLMF 10.41.10) and q_k = -t(u_{k-1}/2 + t u'_{k-1}) as exact rationals."""
    def deriv(p):
        return [i * p[i] for i in range(1, len(p))] or [F(0)]

    def mul(a, b):
        out = [F(0)] * (len(a) + len(b) - 1)
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                out[i + j] += x * y
        return out

    def add(a, b):
        n = max(len(a), len(b))
        return [(a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) for i in range(n)]

    u = [[F(1)]]
    for _ in range(12):
        a = mul([F(0), F(0), F(1, 2), F(0), F(-1, 2)], deriv(u[-1]))
        f = mul([F(1), F(0), F(-5)], u[-1])
        b = [F(0)] + [c / 8 / (i + 1) for i, c in enumerate(f)]
        u.append(add(a, b))
    q = [None] + [mul([F(0), F(-1)], add([c / 2 for c in u[k - 1]], mul([F(0), F(1)], deriv(u[k - 1]))))
                  for k in range(1, 13)]
    for name, polys, n in [("DEBYE_U", u, lambda k: k + 1), ("DEBYE_Q", q, lambda k: k)]:
        print("const %s: [&[f64]; 12] = [" % name)
        for k in range(1, 13):
            p = polys[k] + [F(0)] * 4
            print("    &[" + ", ".join(r(p[k + 2 * j]) for j in range(n(k))) + "],")
        print("];")


if __name__ == "__main__":
    grid()
    nonint()
    switches()
    vmf_limit()
    debye_tables()
