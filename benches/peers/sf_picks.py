"""The record of statsforecast's AutoARIMA choices that benches/src/picks.rs reads: one
line per fitted window, `case fold p d q P D Q m constant aicc coefs...` (coefficients in
the order ar, ma, sar, sma), or `case fold failed`."""


def pick_line(case, i, model):
    """The record's line for a fitted statsforecast AutoARIMA (None: the search failed)."""
    if model is None:
        return f"{case} {i} failed"
    md = model.model_
    p, q, sp, sq, m, d, sd = (int(v) for v in md["arma"])
    coef = md["coef"]
    names = ([f"ar{j}" for j in range(1, p + 1)] + [f"ma{j}" for j in range(1, q + 1)]
             + [f"sar{j}" for j in range(1, sp + 1)] + [f"sma{j}" for j in range(1, sq + 1)])
    constant = int("intercept" in coef or "drift" in coef)
    values = " ".join(repr(float(coef[n])) for n in names)
    return f"{case} {i} {p} {d} {q} {sp} {sd} {sq} {m} {constant} {float(md['aicc'])!r} {values}"
