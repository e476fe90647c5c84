"""Split DeepFM with alice and bob in Ray actors: the in-process bits and bytes, and a
party that fails mid-epoch."""

import copy

import numpy as np
import pytest
from splitdata import SMALL, small_movielens
from threadpoolctl import threadpool_limits

from minigrad.federated import split
from minigrad.recipes import deepfm as rd

pytestmark = pytest.mark.federation


@pytest.fixture(scope="module")
def ray_session():
    pytest.importorskip("ray")
    from minigrad.engines import ray_split

    ray_split.init(num_cpus=2)
    yield ray_split
    ray_split.shutdown()


def _parties():
    return rd.make_parties(rd.prepare(small_movielens()), **SMALL)


def _params(party):
    models = [party.model] + ([party.fuse] if isinstance(party, split.Bob) else [])
    return [p.data.copy() for m in models for p in m.get_parameters()]


def test_two_epochs_over_ray_give_the_in_process_bits_and_bytes(ray_session):
    import ray

    alice, bob = _parties()
    remote = ray_session.parties(copy.deepcopy(alice), copy.deepcopy(bob))
    channel = split.Channel()
    rows = np.arange(len(bob.y))
    with threadpool_limits(1):  # as in the actors (Ray runs them with one BLAS thread)
        want = [split.train_epoch(alice, bob, rows, 32, np.random.default_rng(e), channel)
                for e in range(2)]
    got = [ray_session.train_epoch(*remote, rows, 32, np.random.default_rng(e))
           for e in range(2)]
    assert got == want
    remote_alice, remote_bob = (ray.get(p.get.remote()) for p in remote)
    for mine, theirs in [(alice, remote_alice), (bob, remote_bob)]:
        for a, b in zip(_params(mine), _params(theirs), strict=True):
            assert a.tobytes() == b.tobytes()
    sent = {**ray.get(remote[0].bytes.remote()), **ray.get(remote[1].bytes.remote())}
    assert sent == channel.bytes  # the same Messages, so the same bytes each way
    with threadpool_limits(1):
        local = split.evaluate(alice, bob, rows)
    assert ray_session.evaluate(*remote, rows) == local


def test_a_party_failing_mid_epoch_names_itself_and_alice_keeps_the_last_complete_step(
        ray_session):
    import ray

    alice, bob = _parties()
    remote = ray_session.parties(copy.deepcopy(alice), copy.deepcopy(bob))
    rows = np.arange(len(bob.y))
    steps = split.batches(rows, 32, np.random.default_rng(0))
    with threadpool_limits(1):
        for b in steps[:2]:
            split.train_step(alice, bob, b)
    ray.get(remote[1].fail_at.remote(3, "bob's link dropped"))  # bob's third step fails
    with pytest.raises(ray_session.PartyError,
                       match=r"step 3 of \d+ failed on bob's side \(ConnectionError: bob's "
                             r"link dropped.*alice has not applied step 3"):
        ray_session.train_epoch(*remote, rows, 32, np.random.default_rng(0))
    remote_alice = ray.get(remote[0].get.remote())
    for a, b in zip(_params(alice), _params(remote_alice), strict=True):
        assert a.tobytes() == b.tobytes()  # two steps applied, the third not


def test_a_party_whose_process_dies_is_named(ray_session):
    import ray

    alice, bob = _parties()
    remote = ray_session.parties(alice, bob)
    ray.kill(remote[1])
    with pytest.raises(ray_session.PartyError, match="step 1 of .* on bob's side .*died"):
        ray_session.train_epoch(*remote, np.arange(len(bob.y)), 32)


def test_the_engine_is_imported_only_when_used(monkeypatch):
    import sys

    from minigrad.engines import ray_split

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r'pip install "minigrad\[ray\]"'):
        ray_split.init()


def test_bench_ray_prints_the_step_figures_against_in_process(ray_session):
    import io

    from minigrad.bench.engines import run_ray

    ray_session.shutdown()  # the benchmark starts and stops its own Ray
    try:
        out = io.StringIO()
        figures = run_ray(None, out, num_rows=1280, epochs=1)
    finally:
        ray_session.init(num_cpus=2)
    for key in ("in_process_step_s", "ray_step_s", "overhead_ms_per_step", "epoch_ratio",
                "ray_init_s"):
        assert figures[key] > 0 or key == "overhead_ms_per_step", key
    assert figures["steps"] == 10
    assert "in-process step" in out.getvalue()
