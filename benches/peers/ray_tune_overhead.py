"""Ray Tune's scheduling overhead on the same trivial objective as
crates/tuner/examples/overhead.rs: N trials, one report each, no work.

    python benches/peers/ray_tune_overhead.py 1000
"""
import os
import sys
import tempfile
import time

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler


def trivial(config):
    tune.report({"loss": config["x"]})


def run(n, scheduler, concurrent):
    space = {"x": tune.uniform(0, 1), "n": tune.randint(1, 100), "c": tune.choice(["a", "b"])}
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        tuner = tune.Tuner(
            trivial,
            param_space=space,
            tune_config=tune.TuneConfig(
                metric="loss", mode="min", num_samples=n, scheduler=scheduler,
                max_concurrent_trials=concurrent,
            ),
            run_config=tune.RunConfig(storage_path=d, name="overhead", verbose=0),
        )
        tuner.fit()
        return time.perf_counter() - t


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"ray {ray.__version__}, {n} trials")
    for label, sched, conc in [
        ("fifo, 2 at a time", FIFOScheduler(), 2),
        ("asha, 2 at a time", ASHAScheduler(grace_period=1, reduction_factor=4, max_t=10), 2),
    ]:
        s = run(n, sched, conc)
        print(f"  {label:24} {n / s:9.1f} trials/s {s / n * 1e3:8.2f} ms/trial")
