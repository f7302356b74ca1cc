"""Optuna's per-trial overhead on the same trivial objective as
crates/tuner/examples/overhead.rs (one value, no work), same 3-key space, in-memory storage,
one trial at a time (Optuna's default; n_jobs=2 threads share the GIL).

    python benches/peers/optuna_overhead.py 10000
"""
import statistics
import sys
import time

import optuna


def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_int("n", 1, 99)
    trial.suggest_categorical("c", ["a", "b"])
    return x


def run(n, sampler):
    study = optuna.create_study(direction="minimize", sampler=sampler)
    t = time.perf_counter()
    study.optimize(objective, n_trials=n)
    return time.perf_counter() - t


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"optuna {optuna.__version__}, {n} trials (median of 3 runs)")
    for label, make in [
        ("random, in memory, 1 at a time", lambda: optuna.samplers.RandomSampler(seed=1)),
    ]:
        s = statistics.median(run(n, make()) for _ in range(3))
        print(f"  {label:32} {n / s:9.0f} trials/s {s / n * 1e6:9.1f} us/trial")
    # TPE's cost grows with the number of finished trials: 1,000 trials.
    m = min(n, 1000)
    s = statistics.median(run(m, optuna.samplers.TPESampler(seed=1)) for _ in range(3))
    print(f"  {'tpe (1,000 trials), 1 at a time':32} {m / s:9.0f} trials/s {s / m * 1e6:9.1f} us/trial")
