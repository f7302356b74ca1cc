"""Per-trial overhead of a study shared through PostgreSQL: our store (the tuner's
`pg_overhead` example, one process per worker) beside Optuna's RDBStorage (one process per
worker, `study.optimize` with a MaxTrialsCallback for the study's total), on the same
server, the same trivial objective (3 parameters: a float, an int, a categorical; one
value reported, no work), the same number of trials, 1, 2, 4 and 8 workers started at
once. Each run gets a fresh database. Prints, per worker count, the wall time from the
first start to the last exit, the trials per second and the overhead per trial in
worker-seconds (workers x wall / trials: the time a trial costs a worker beyond its
objective), then the CPU-bound scaling of ours: trials of SPIN iterations of arithmetic
with 1 and with 2 workers. Optuna's schema and study are created before its clock starts
(its schema creation races when several processes start on an empty database); ours are
created by the workers themselves, inside the timing.

    python tuner_pg_vs_optuna.py --bin PG_OVERHEAD --admin URL [--trials N] [--cpu-trials N --spin N]
    python tuner_pg_vs_optuna.py --optuna-worker URL STUDY TRIALS   (one Optuna worker)
    python tuner_pg_vs_optuna.py --optuna-create URL STUDY          (Optuna's schema and study)
"""
import argparse
import subprocess
import sys
import time
import uuid

import psycopg2


def optuna_storage(url):
    import optuna

    return optuna.storages.RDBStorage(url.replace("postgresql://", "postgresql+psycopg2://"))


def optuna_create(url, study_name):
    """Optuna's schema and the study, made once before the workers start (Optuna's own
    advice: its schema creation races when several processes start on an empty database)."""
    import optuna

    optuna.create_study(study_name=study_name, storage=optuna_storage(url), direction="minimize")


def optuna_worker(url, study_name, trials):
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.suggest_int("n", 1, 99)
        trial.suggest_categorical("c", ["a", "b"])
        return x

    storage = optuna_storage(url)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.RandomSampler(),
    )
    study.optimize(
        objective,
        callbacks=[MaxTrialsCallback(trials, states=None)],
        n_trials=trials,
    )


def fresh_db(admin):
    name = f"bench_{uuid.uuid4().hex[:12]}"
    con = psycopg2.connect(admin)
    con.autocommit = True
    con.cursor().execute(f"CREATE DATABASE {name}")
    con.close()
    return name


def drop_db(admin, name):
    con = psycopg2.connect(admin)
    con.autocommit = True
    con.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    con.close()


def db_url(admin, name):
    return admin.rsplit("/", 1)[0] + "/" + name


def timed(cmds):
    t = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in cmds]
    outs = [p.communicate() for p in procs]
    wall = time.perf_counter() - t
    for p, (o, e) in zip(procs, outs):
        if p.returncode != 0:
            sys.exit(f"{cmds[0][0]} failed ({p.returncode}): {e.decode()[-2000:]}")
    return wall


def count_trials_optuna(url):
    con = psycopg2.connect(url)
    cur = con.cursor()
    cur.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'")
    n = cur.fetchone()[0]
    con.close()
    return n


def run(admin, make_cmds, trials, workers, counter=None, setup=None):
    name = fresh_db(admin)
    url = db_url(admin, name)
    try:
        if setup:
            setup(url, name)
        wall = timed(make_cmds(url, name, workers))
        done = counter(url) if counter else trials
    finally:
        drop_db(admin, name)
    return wall, done


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--optuna-create":
        optuna_create(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--optuna-worker":
        optuna_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--admin", required=True, help="URL of a database to create others from")
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--workers", default="1,2,4,8")
    ap.add_argument("--cpu-trials", type=int, default=40)
    ap.add_argument("--spin", type=int, default=100_000_000)
    a = ap.parse_args()

    def ours(trials, spin):
        return lambda url, name, w: [[a.bin, url, name, str(trials), str(spin)]] * w

    def theirs(trials):
        return lambda url, name, w: [
            [sys.executable, __file__, "--optuna-worker", url, name, str(trials)]
        ] * w

    print(f"{'workers':>7} {'ours s':>8} {'ours trials/s':>14} {'ours ms/trial':>14} "
          f"{'optuna s':>9} {'optuna trials/s':>16} {'optuna ms/trial':>16} {'ratio':>6}")
    for w in [int(v) for v in a.workers.split(",")]:
        ow, _ = run(a.admin, ours(a.trials, 0), a.trials, w)
        tw, done = run(a.admin, theirs(a.trials), a.trials, w, count_trials_optuna, optuna_create)
        o_ms = w * ow / a.trials * 1e3
        t_ms = w * tw / done * 1e3
        print(f"{w:>7} {ow:>8.2f} {a.trials / ow:>14.1f} {o_ms:>14.3f} "
              f"{tw:>9.2f} {done / tw:>16.1f} {t_ms:>16.3f} {t_ms / o_ms:>5.1f}x"
              + (f"  (optuna finished {done} trials)" if done != a.trials else ""))
    rates = {}
    for w in (1, 2):
        wall, _ = run(a.admin, ours(a.cpu_trials, a.spin), a.cpu_trials, w)
        rates[w] = a.cpu_trials / wall
        print(f"CPU-bound, ours, {w} worker(s): {a.cpu_trials} trials of {a.spin} iterations "
              f"in {wall:.2f} s, {rates[w]:.2f} trials/s")
    print(f"CPU-bound speed-up of 2 workers over 1: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
