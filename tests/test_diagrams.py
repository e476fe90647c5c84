"""The protocol diagrams: each draws into a fresh Figure (none left open in pyplot), shows the
facts its notebook teaches, and refuses arguments it cannot draw."""

import struct

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from minigrad import diagrams


def texts(diagram):
    return [t.get_text() for t in diagram.figure.findobj(matplotlib.text.Text) if t.get_text()]


@pytest.mark.parametrize("name", sorted(diagrams.TITLES))
def test_each_diagram_draws_a_figure_pyplot_does_not_hold(name):
    before = plt.get_fignums()
    diagram = getattr(diagrams, name)()
    assert isinstance(diagram.figure, Figure)
    assert plt.get_fignums() == before
    png = diagram._repr_png_()  # what a notebook shows, with no backend set up
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 400 and height > 200
    assert repr(diagram) == f"<diagram: {diagrams.TITLES[name]}>"  # the text nbval compares
    assert diagrams.TITLES[name] in texts(diagram)  # ... is the title drawn on it


def test_fedavg_names_every_client_and_what_crosses():
    words = " ".join(texts(diagrams.fedavg_round((("Ann", "5 emails"), ("Ben", "7 emails")))))
    assert "client Ann" in words and "client Ben" in words and "5 emails" in words
    assert "never sent" in words and "n_k" in words
    with pytest.raises(ValueError, match="at least 2 clients"):
        diagrams.fedavg_round((("Ann", "5 emails"),))


def test_fedrecon_keeps_u_on_the_device():
    words = " ".join(texts(diagrams.fedrecon_round()))
    assert "stays on the device" in words and "never receives $u$" in words
    sent = [t for t in texts(diagrams.fedrecon_round()) if t.startswith("4.")]
    assert sent and all("u" not in t.replace("\\Delta", "").replace("_c", "") for t in sent)


def test_split_cut_counts_the_columns_it_is_given():
    words = " ".join(texts(diagrams.split_deepfm_cut((("deep", 3), ("fm", 4)))))
    assert "B × 7" in words and "deep (3) | fm (4)" in words
    assert "forward" in words and "backward" in words
    assert "B × 49" in " ".join(texts(diagrams.split_deepfm_cut()))  # notebook 04's cut


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_mask_table_cancels_every_pair_and_keeps_the_self_masks(n):
    labels, signs = diagrams._mask_terms(n)
    pairs = signs[:, 2:]
    assert pairs.shape[1] == n * (n - 1) // 2 == len(labels) - 2
    assert (pairs.sum(axis=0) == 0).all()            # every pairwise mask cancels in the sum
    assert (np.abs(pairs).sum(axis=0) == 2).all()    # ... and is held by exactly two clients
    assert (np.abs(pairs).sum(axis=1) == n - 1).all()  # each client masks with every peer
    assert (signs[:, :2] == 1).all()                 # x_u and PRG(b_u) do not cancel
    words = texts(diagrams.mask_cancellation(n))
    assert words.count("+ mask") == words.count("− mask") == n * (n - 1) // 2


def test_mask_table_refuses_sizes_it_cannot_draw():
    for n in (1, 6):
        with pytest.raises(ValueError, match="2 to 5 clients"):
            diagrams.mask_cancellation(n)


def test_dp_pipeline_shows_clip_noise_and_public_denominator():
    words = " ".join(texts(diagrams.dp_fedavg_pipeline()))
    for fact in ("clip", "noise", "qN", "public", "accountant"):
        assert fact in words


def test_leakage_geometry_is_a_seeded_picture_and_checks_its_arguments():
    a, b = diagrams.label_leakage_geometry(seed=3), diagrams.label_leakage_geometry(seed=3)
    ends = [[np.asarray(p.xy) for p in d.figure.findobj(matplotlib.text.Annotation)]
            for d in (a, b)]
    assert all(np.array_equal(x, y) for x, y in zip(*ends, strict=True))
    with pytest.raises(ValueError, match="base_rate"):
        diagrams.label_leakage_geometry(base_rate=0.5)
    with pytest.raises(ValueError, match="num_points"):
        diagrams.label_leakage_geometry(num_points=1)
