"""Split learning's label leakage (Li et al., ICLR 2022): norm and direction attacks, defences."""

import numpy as np
import pytest
from realdata import ML100K_ROOT, needs_ml100k
from splitdata import imbalanced_gradients, leakage_features, leakage_parties

from minigrad.datasets import load_movielens, vertical_split
from minigrad.deepfm import DeepFMBase, DeepFMFuse
from minigrad.federated import split
from minigrad.federated.compression import Codec, Float16, Identity, Quantize8Bit, get_codec
from minigrad.federated.split import Channel, Message
from minigrad.privacy.label_leakage import (
    GaussianNoise,
    LeakLog,
    NormEqualize,
    batch_leak_aucs,
    curious_train_epoch,
    direction_scores,
    known_positive,
    leak_auc,
    norm_scores,
)
from minigrad.recipes.deepfm import alice_features, bob_features


def mean_over_batches(rng, num_batches, codec=None, reference="received", **kw):
    """Mean leak AUCs over batches of imbalanced_gradients, through ``codec`` if given."""
    norm, direction = [], []
    for _ in range(num_batches):
        g, y = imbalanced_gradients(rng, **kw)
        received = g if codec is None else codec.decode(codec.encode(g), g.dtype)
        ref = None if reference == "received" else g[known_positive(y, rng)]
        aucs = batch_leak_aucs(received, y, rng, reference=ref)
        norm.append(aucs["norm"])
        direction.append(aucs["direction"])
    return float(np.mean(norm)), float(np.mean(direction))


# ---------------------------------------------------------------------------
# the scores, on literal arrays
# ---------------------------------------------------------------------------
def test_norm_scores_are_row_norms():
    g = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]], dtype=np.float32)

    scores = norm_scores(g)

    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, [5.0, 0.0, 1.0])


def test_direction_scores_are_cosines_and_a_zero_row_scores_zero():
    g = np.array([[2.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, 0.0], [1.0, 1.0]])

    scores = direction_scores(g, reference=[5.0, 0.0])

    np.testing.assert_allclose(scores, [1.0, -1.0, 0.0, 0.0, np.sqrt(0.5)])


def test_leak_auc_is_one_for_a_perfect_ranking_zero_reversed_nan_for_one_class():
    y = np.array([0, 0, 1, 1])

    assert leak_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert leak_auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert leak_auc(y, [1.0, 1.0, 1.0, 1.0]) == 0.5      # ties: nothing leaked
    assert np.isnan(leak_auc([1, 1, 1], [0.1, 0.2, 0.3]))


def test_known_positive_is_drawn_among_the_positives(rng):
    y = np.array([0, 1, 0, 1, 1, 0])

    picks = {known_positive(y, rng) for _ in range(200)}

    assert picks == {1, 3, 4}
    assert known_positive(np.zeros(4, dtype=int), rng) is None


def test_batch_leak_aucs_on_a_literal_batch():
    # Arrange: positives (rows 0, 1) point one way and have the larger norms
    g = np.array([[-2.0, -1.0], [-3.0, -1.0], [0.5, 0.2], [0.2, 0.1]])
    y = np.array([1, 1, 0, 0])
    # Act
    aucs = batch_leak_aucs(g, y, np.random.default_rng(0))
    with_ref = batch_leak_aucs(g, y, reference=[1.0, 0.0])   # a reference on the wrong side
    one_class = batch_leak_aucs(g, np.ones(4, dtype=int), np.random.default_rng(0))
    # Assert
    assert aucs == {"norm": 1.0, "direction": 1.0}
    assert with_ref["direction"] == 0.0
    assert np.isnan(one_class["norm"]) and np.isnan(one_class["direction"])


# ---------------------------------------------------------------------------
# the attacks on constructed gradients: Li et al.'s setting, imbalanced labels
# ---------------------------------------------------------------------------
def test_undefended_norm_and_direction_attacks_leak_the_labels(rng):
    norm, direction = mean_over_batches(rng, 20)

    assert norm > 0.95
    assert direction > 0.95


def test_strong_noise_brings_the_norm_attack_to_chance(rng):
    # Act: expected noise norm 20 x the batch's largest gradient norm
    norm, direction = mean_over_batches(rng, 200, GaussianNoise(20.0, rng))

    assert 0.45 <= norm <= 0.55
    assert 0.45 <= direction <= 0.55


def test_noise_hurts_the_attack_less_when_the_reference_is_clean(rng):
    # Li et al.'s code scores against a clean (noise-free) gradient of the known positive
    codec = GaussianNoise(1.0, np.random.default_rng(1))
    _, noisy_ref = mean_over_batches(np.random.default_rng(2), 50, codec)
    _, clean_ref = mean_over_batches(np.random.default_rng(2), 50, codec, reference="clean")

    assert clean_ref > noisy_ref + 0.02


def test_norm_equalisation_defeats_the_norm_attack_but_not_the_direction_attack(rng):
    norm, direction = mean_over_batches(rng, 100, NormEqualize("max"))

    assert 0.45 <= norm <= 0.55
    assert direction > 0.95


# ---------------------------------------------------------------------------
# the defences
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["max", "mean", 0.25])
def test_norm_equalize_gives_every_row_one_norm_and_keeps_directions(rng, target):
    # Arrange: one row of zeros among them
    g, _ = imbalanced_gradients(rng, batch=32)
    g[5] = 0.0
    norms = np.linalg.norm(g.astype(np.float64), axis=1)
    expected = {"max": norms.max(), "mean": norms[norms > 0].mean(), 0.25: 0.25}[target]
    # Act
    out = NormEqualize(target).perturb(g)
    # Assert
    out_norms = np.linalg.norm(out.astype(np.float64), axis=1)
    assert out.dtype == np.float32 and out.shape == g.shape
    np.testing.assert_allclose(np.delete(out_norms, 5), expected, rtol=1e-6)
    assert not out[5].any()
    np.testing.assert_allclose(np.delete(direction_scores(out, g[0]), 5),
                               np.delete(direction_scores(g, g[0]), 5), atol=1e-6)


def test_gaussian_noise_has_the_stated_standard_deviation(rng):
    # Arrange: one row of norm 10, width 400
    g = np.zeros((500, 400))
    g[0, 0] = 10.0
    # Act
    relative = GaussianNoise(0.5, np.random.default_rng(1)).perturb(g) - g
    absolute = GaussianNoise(0.5, np.random.default_rng(1), relative=False).perturb(g) - g
    # Assert: sigma = 0.5 * 10 / sqrt(400) = 0.25; then 0.5
    assert relative.std() == pytest.approx(0.25, rel=0.01)
    assert absolute.std() == pytest.approx(0.5, rel=0.01)
    assert abs(relative.mean()) < 0.002


def test_zero_noise_is_the_identity_and_a_seed_reproduces_the_noise(rng):
    g, _ = imbalanced_gradients(rng)

    assert np.array_equal(GaussianNoise(0.0, 1).perturb(g), g)
    a, b = GaussianNoise(2.0, 7).perturb(g), GaussianNoise(2.0, 7).perturb(g)
    assert np.array_equal(a, b) and not np.array_equal(a, g)


def test_a_defence_is_a_codec_alice_decodes_what_bob_perturbed(rng):
    # Arrange
    g, _ = imbalanced_gradients(rng)
    codec = GaussianNoise(1.0, np.random.default_rng(3))
    # Act: a message carries the perturbed gradient; alice decodes it with the agreed codec
    message = Message("bob", "alice", "grad", codec.encode(g), codec)
    # Assert
    assert isinstance(codec, Codec) and get_codec(codec) is codec
    np.testing.assert_array_equal(message.decode(np.float32),
                                  GaussianNoise(1.0, np.random.default_rng(3)).perturb(g))
    assert codec.name == "gauss1+float32"


@pytest.mark.parametrize("inner, bytes_per_value, extra", [
    (None, 4, 0), (Float16(), 2, 0), ("int8", 1, 5)])
def test_a_defence_costs_no_bytes_beyond_its_inner_codec(rng, inner, bytes_per_value, extra):
    g, _ = imbalanced_gradients(rng, batch=64, width=49)

    for codec in (GaussianNoise(1.0, rng, inner=inner), NormEqualize(inner=inner)):
        _, size = codec.round_trip(g)
        assert size == bytes_per_value * g.size + extra
        assert type(codec.inner) is type(get_codec(inner))


def test_a_defence_composes_with_8bit_compression(rng):
    g, _ = imbalanced_gradients(rng)
    codec = NormEqualize(inner=Quantize8Bit())

    back = codec.decode(codec.encode(g), np.float32)

    expected = NormEqualize().perturb(g)
    scale = (max(expected.max(), 0) - min(expected.min(), 0)) / 255
    assert np.abs(back - expected).max() <= scale / 2 + 1e-9


# ---------------------------------------------------------------------------
# through the split-learning protocol (synthetic MovieLens, small DeepFM)
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def five_star_features():
    """Synthetic ml-100k-shaped data with bob's label 'rating == 5' (~21% positive)."""
    return leakage_features(label_threshold=4)


def run_epochs(alice, bob, num_epochs, channel=None):
    logs = [curious_train_epoch(alice, bob, batch_size=64, rng=np.random.default_rng(e),
                                attack_rng=np.random.default_rng(100 + e), channel=channel)
            for e in range(num_epochs)]
    return logs


def test_protocol_undefended_alice_reads_the_labels(five_star_features):
    # Arrange
    alice, bob = leakage_parties(five_star_features)
    assert 0.15 < five_star_features[2].mean() < 0.3
    # Act
    logs = run_epochs(alice, bob, 2)
    # Assert: second epoch, Li et al.'s per-batch leak AUC averaged over the epoch
    assert len(logs[1]) == 29 and len(logs[1].norm) == 29
    assert logs[1].mean("norm") > 0.9
    assert logs[1].mean("direction") > 0.95
    assert logs[1].loss[-1] < logs[0].loss[0]                      # and it trains


def test_protocol_strong_noise_brings_both_attacks_to_chance(five_star_features):
    alice, bob = leakage_parties(five_star_features, GaussianNoise(10.0, 1))

    logs = run_epochs(alice, bob, 2)

    norm = np.nanmean(logs[0].norm + logs[1].norm)
    direction = np.nanmean(logs[0].direction + logs[1].direction)
    assert 0.45 <= norm <= 0.55
    assert 0.45 <= direction <= 0.55


def test_protocol_norm_equalisation_sends_equal_norms(five_star_features):
    # Arrange: keep every message to look at what alice received
    alice, bob = leakage_parties(five_star_features, NormEqualize("mean"))
    channel = Channel(keep=True)
    # Act
    logs = run_epochs(alice, bob, 1, channel)
    # Assert
    grads = [m.decode(np.float64) for m in channel.log if m.kind == "grad"]
    assert len(grads) == 29
    for g in grads:
        norms = np.linalg.norm(g, axis=1)
        np.testing.assert_allclose(norms, norms[0], rtol=1e-9)
    assert 0.4 <= logs[0].mean("norm") <= 0.6
    assert logs[0].mean("direction") > 0.95


def test_protocol_a_defence_changes_no_byte_count(five_star_features):
    # Arrange
    counts = []
    for codec in (None, GaussianNoise(1.0, 0), NormEqualize(),
                  GaussianNoise(1.0, 0, inner="float16")):
        alice, bob = leakage_parties(five_star_features, codec)
        channel = Channel()
        # Act
        run_epochs(alice, bob, 1, channel)
        counts.append((channel.bytes_sent("alice", "bob"), channel.bytes_sent("bob", "alice")))
    # Assert: 1800 rows, cut width 8 + 4 + 1 = 13, float64 (the model's dtype) each way
    assert counts[0] == (1800 * 13 * 8, 1800 * 13 * 8)
    assert counts[1] == counts[2] == counts[0]
    assert counts[3] == (1800 * 13 * 8, 1800 * 13 * 2)


def test_leak_log_mean_skips_one_class_batches():
    log = LeakLog(loss=[1.0, 1.0, 1.0], positive_rate=[0.5, 0.0, 0.5],
                  norm=[0.9, float("nan"), 0.7], direction=[1.0, float("nan"), 0.5])

    assert log.mean("norm") == pytest.approx(0.8)
    assert log.mean("direction") == pytest.approx(0.75)
    assert np.isnan(LeakLog().mean("norm"))


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("make, error, words", [
    (lambda: GaussianNoise(-1.0, 0), ValueError, "scale must be"),
    (lambda: GaussianNoise(float("nan"), 0), ValueError, "scale must be"),
    (lambda: GaussianNoise(1.0, None), ValueError, "pass rng"),
    (lambda: NormEqualize("median"), ValueError, "'max', 'mean'"),
    (lambda: NormEqualize(0.0), ValueError, "> 0"),
    (lambda: NormEqualize(inner=NormEqualize()), TypeError, "another defence"),
    (lambda: GaussianNoise(1.0, 0, inner="gzip"), ValueError, "unknown codec"),
])
def test_bad_defence_settings_are_refused(make, error, words):
    with pytest.raises(error, match=words):
        make()


@pytest.mark.parametrize("call, error, words", [
    (lambda: norm_scores(np.ones(4)), ValueError, "2-D"),
    (lambda: norm_scores(np.ones((2, 2), dtype=np.int64)), TypeError, "floating-point"),
    (lambda: norm_scores(np.array([[1.0, np.nan]])), ValueError, "inf or nan"),
    (lambda: direction_scores(np.ones((2, 3)), np.zeros(3)), ValueError, "non-zero"),
    (lambda: direction_scores(np.ones((2, 3)), np.ones(4)), ValueError, "4 entries"),
    (lambda: batch_leak_aucs(np.ones((3, 2)), [0, 1]), ValueError, "3 gradient rows but 2"),
    (lambda: batch_leak_aucs(np.eye(2), [0, 1]), ValueError, "pass rng"),
    (lambda: GaussianNoise(1.0, 0).encode(np.ones(5)), ValueError, "GaussianNoise.*2-D"),
    (lambda: NormEqualize().encode(np.ones((2, 2, 2))), ValueError, "NormEqualize.*2-D"),
    (lambda: LeakLog().mean("cosine"), ValueError, "'norm' or 'direction'"),
])
def test_bad_inputs_say_what_was_expected(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_identity_inner_is_the_default():
    assert isinstance(NormEqualize().inner, Identity)
    assert repr(GaussianNoise(0.5, 0)) == \
        "GaussianNoise(scale=0.5, relative=True, inner=Identity())"


# ---------------------------------------------------------------------------
# real data: MovieLens-100K, bob's label 'rating == 5', SecretFlow's DeepFM sizes
# ---------------------------------------------------------------------------


@needs_ml100k
def test_real_movielens_five_stars_norm_attack_as_in_li_et_al():
    # Arrange: the first 25,600 ratings, 100 batches of 256, float32
    movielens = load_movielens("ml-100k", ML100K_ROOT)
    alice_df, bob_df = vertical_split(movielens, label_threshold=4)
    user = alice_features(alice_df)
    item, y = bob_features(bob_df, movielens.genre_names)
    rows = np.arange(25_600)
    aucs = {}
    for name, codec in (("none", None), ("noise", GaussianNoise(10.0, 1))):
        rng = np.random.default_rng(0)
        alice = split.Alice(user.X, DeepFMBase(user.cardinalities, user.slots, rng=rng))
        bob = split.Bob(item.X, y, DeepFMBase(item.cardinalities, item.slots, rng=rng),
                        DeepFMFuse(64, rng=rng), codec=codec)
        # Act
        log = curious_train_epoch(alice, bob, rows, batch_size=256,
                                  rng=np.random.default_rng(0))
        aucs[name] = (log.mean("norm"), log.mean("direction"))
    # Assert: Li et al. report 0.95-1.0 without protection (Criteo, Avazu, ISIC)
    assert 0.15 < y.mean() < 0.25
    assert aucs["none"][0] > 0.9 and aucs["none"][1] > 0.95
    assert 0.45 <= aucs["noise"][0] <= 0.55 and 0.45 <= aucs["noise"][1] <= 0.55
