"""``bench flower`` and ``bench ray``: a round on Flower and a split step on Ray, each
against the same work in this process, in the same run.

flower: notebook 01's book FedAvg (3 clients, real Enron-Spam): ``run_round`` rounds vs the
same rounds on Flower's Simulation Engine (per round: the ServerApp's send, the replies
and the aggregate; the engine's start-up reported apart), and the final weights compared.
ray: split DeepFM at ml-100k's shapes (synthetic rows, SecretFlow's sizes, batch 128):
``split.train_epoch`` vs ``engines.ray_split.train_epoch``, one BLAS thread both sides.
"""

import copy
import tempfile
import time

import numpy as np

from .realdata import WorkloadError, or_refuse, real_root
from .threads import blas_threads

__all__ = ["run_flower", "run_ray"]


def _engine(module, extra):
    try:
        __import__(module)
    except ImportError as e:
        raise WorkloadError(f'this benchmark needs {module}: pip install "minigrad[{extra}]"') \
            from e


def run_flower(args, out, num_rounds=3):
    """The CLI's ``flower``; -> its BENCH figures."""
    _engine("flwr", "flower")
    from ..datasets import load_enron_spam
    from ..engines import flower
    from ..federated import FedAvg, run_round
    from ..recipes import spam

    corpus = or_refuse(lambda: load_enron_spam(real_root("flower", "Enron-Spam",
                                                         "enron-spam")))
    book = spam.book_recipe(corpus)
    X, y, vocab = book.X_train, book.y_train, len(book.vocab)
    clients = [(X[:1000], y[:1000]), (X[1000:2000], y[1000:2000]), (X[2000:], y[2000:])]
    update = spam.book_update_fn(spam.spam_model(vocab))
    start_params = spam.spam_model(vocab).state_dict()
    times, params = [], start_params
    for _ in range(num_rounds):
        t0 = time.perf_counter()
        params, _ = run_round(params, clients, update, aggregator=FedAvg(weighted=False))
        times.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as parts:
        flower.write_partitions(parts, clients)
        server = flower.server_app(start_params, num_rounds, num_clients=3,
                                   aggregator=FedAvg(weighted=False))
        total = flower.simulate(server, flower.client_app(
            lambda: spam.book_update_fn(spam.spam_model(vocab)), FedAvg(weighted=False),
            parts), 3)
    rounds = server.result["history"].rounds
    sim = [r["seconds"]["round_trip"] + r["seconds"]["aggregate"] for r in rounds]
    got = server.result["params"]
    equal = all(got[k].tobytes() == params[k].tobytes() for k in params)
    figures = {
        "workload": "flower", "num_clients": 3, "num_rounds": num_rounds,
        "in_process_round_s": float(np.median(times)),
        "simulation_round_s": float(np.median(sim)),
        "simulation_total_s": total,
        "simulation_startup_s": total - float(np.sum(sim)),
        "simulation_ratio": float(np.median(sim) / np.median(times)),
        "deployment_round_s": None,
        "deployment_note": "not measured: the local Deployment Engine harness is not built yet",
        "bitwise_equal": bool(equal),
    }
    print(f"book FedAvg, 3 clients, {vocab:,} weights, {num_rounds} rounds", file=out)
    print(f"  in-process round   {figures['in_process_round_s'] * 1e3:8.1f} ms", file=out)
    print(f"  Simulation Engine  {figures['simulation_round_s'] * 1e3:8.1f} ms a round "
          f"({figures['simulation_ratio']:.1f}x), plus {figures['simulation_startup_s']:.1f} s "
          f"of start-up", file=out)
    print(f"  final weights bitwise equal: {equal}", file=out)
    return figures


def run_ray(args, out, num_rows=128 * 100, epochs=3):
    """The CLI's ``ray``; -> its BENCH figures."""
    _engine("ray", "ray")
    from ..datasets import synthetic_movielens
    from ..engines import ray_split
    from ..federated import split
    from ..recipes import deepfm as rd

    blas_threads(1)  # as in Ray's workers
    data = rd.prepare(synthetic_movielens(num_users=943, num_items=1682, num_ratings=100_000,
                                          seed=0))
    rows = data.train[:num_rows]
    alice, bob = rd.make_parties(data)
    remote_init = ray_split.init()
    try:
        remote = ray_split.parties(copy.deepcopy(alice), copy.deepcopy(bob))
        ray_split.train_epoch(*remote, rows[:1280], 128)  # warm-up: actors started, code hot
        split.train_epoch(copy.deepcopy(alice), copy.deepcopy(bob), rows[:1280], 128)
        local_s, ray_s = [], []
        for e in range(epochs):
            t0 = time.perf_counter()
            split.train_epoch(alice, bob, rows, 128, np.random.default_rng(e))
            local_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ray_split.train_epoch(*remote, rows, 128, np.random.default_rng(e))
            ray_s.append(time.perf_counter() - t0)
    finally:
        ray_split.shutdown()
    steps = len(split.batches(rows, 128))
    local, far = float(np.median(local_s)), float(np.median(ray_s))
    figures = {
        "workload": "ray", "rows": int(len(rows)), "batch": 128, "steps": steps,
        "in_process_step_s": local / steps, "ray_step_s": far / steps,
        "overhead_ms_per_step": (far - local) / steps * 1e3,
        "in_process_epoch_s": local, "ray_epoch_s": far, "epoch_ratio": far / local,
        "ray_init_s": remote_init,
    }
    print(f"split DeepFM, ml-100k shapes, {steps} steps of 128 rows, one BLAS thread", file=out)
    print(f"  in-process step {local / steps * 1e3:6.2f} ms, over Ray {far / steps * 1e3:6.2f} ms "
          f"(+{figures['overhead_ms_per_step']:.2f} ms); epoch {far / local:.2f}x; "
          f"ray.init {remote_init:.1f} s", file=out)
    return figures
