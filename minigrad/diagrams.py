"""The course's protocol diagrams, drawn with matplotlib from this code (nothing is fetched).

    from minigrad import diagrams
    diagrams.fedavg_round()          # a Diagram: a notebook cell shows it as a PNG
    diagrams.fedavg_round().figure   # the matplotlib Figure, e.g. to savefig

One function per picture: ``fedavg_round`` (notebook 01), ``fedrecon_round`` (03),
``split_deepfm_cut`` (04), ``mask_cancellation`` and ``dp_fedavg_pipeline`` (05) and
``label_leakage_geometry`` (06). The Figure is not registered with pyplot: it needs no
backend, is shown once, and leaves no open figure behind.
"""

import io

import numpy as np

__all__ = [
    "Diagram",
    "fedavg_round",
    "fedrecon_round",
    "split_deepfm_cut",
    "mask_cancellation",
    "dp_fedavg_pipeline",
    "label_leakage_geometry",
]

# one palette for every picture: who holds what
SERVER_COLOR = "#dbe8f6"   # the server and what it holds
CLIENT_COLOR = "#e3f1df"   # a client, a party
PRIVATE_COLOR = "#fbe3d6"  # what never leaves its owner
MESSAGE_COLOR = "#4a4a4a"  # arrows: what crosses a boundary
NOTE_COLOR = "#5f5f5f"

TITLES = {
    "fedavg_round":
        "One round of federated averaging (FedAvg)",
    "fedrecon_round":
        "One round of Federated Reconstruction: the user factors stay on the device",
    "split_deepfm_cut":
        "Split DeepFM: what crosses the cut, each way, every step",
    "mask_cancellation":
        "Pairwise masks cancel in the sum; the server removes the self-masks with the shares",
    "dp_fedavg_pipeline":
        "One round of DP-FedAvg, and what the accountant adds up",
    "label_leakage_geometry":
        "Label leakage: the geometry of bob's gradients (a 2-D schematic of 49-D vectors)",
}
"""Each diagram's title: drawn on it, and its text in a notebook."""


class Diagram:
    """A drawn picture: Jupyter shows it as a PNG (``_repr_png_``), its text is its title."""

    def __init__(self, figure, title):
        self.figure, self.title = figure, title

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()

    def __repr__(self):
        return f"<diagram: {self.title}>"


def _canvas(width, height, size):
    """A Figure with one axes in data units 0..width x 0..height, no frame."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _box(ax, x, y, w, h, text, color, *, size=10, weight="normal", dashed=False, va="center",
         linespacing=1.5):
    """A rounded box centred at (x, y) with ``text`` inside; returns its (left, bottom, w, h)."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0.02,rounding_size=0.12", fc=color,
                                ec="#555555", lw=1.2, ls="--" if dashed else "-"))
    ty = y if va == "center" else y + h / 2 - 0.12
    ax.text(x, ty, text, ha="center", va=va, fontsize=size, weight=weight,
            linespacing=linespacing)
    return (x - w / 2, y - h / 2, w, h)


def _arrow(ax, start, end, text="", *, color=MESSAGE_COLOR, side=0.0, size=9, rad=0.0, lw=1.6,
           text_offset=(0.0, 0.0), ha="center"):
    """An arrow from ``start`` to ``end``, labelled at its middle (shifted by ``text_offset``)."""
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle="-|>", color=color, lw=lw, mutation_scale=14,
                                shrinkA=2, shrinkB=2, connectionstyle=f"arc3,rad={rad}"))
    if text:
        mx = (start[0] + end[0]) / 2 + text_offset[0]
        my = (start[1] + end[1]) / 2 + text_offset[1]
        ax.text(mx, my, text, ha=ha, va="center", fontsize=size, color=color,
                bbox=dict(fc="white", ec="none", pad=1.0, alpha=0.9))


def _title(ax, x, y, text, size=12):
    ax.text(x, y, text, ha="center", va="center", fontsize=size, weight="bold")


# ---------------------------------------------------------------------------
# notebook 01
# ---------------------------------------------------------------------------
def fedavg_round(clients=(("Bob", "1,000 emails"), ("Alice", "1,000 emails"),
                          ("Sue", "29,000 emails"))):
    """One FedAvg round: broadcast, local training, weighted aggregation; the data stays home.

    clients: (name, what it holds) per client box.
    """
    n = len(clients)
    if n < 2:
        raise ValueError(f"fedavg_round: draw at least 2 clients, got {n}")
    width = 3.4 * n + 0.6
    fig, ax = _canvas(width + 1.6, 6.3, ((width + 1.6) * 0.95, 6.3 * 0.95))
    ax.set_xlim(-0.8, width + 0.8)
    sx = width / 2
    _title(ax, sx, 6.05, TITLES["fedavg_round"])
    _box(ax, sx, 4.95, 6.4, 1.2,
         "server: the global model $\\theta_t$\n"
         "4. aggregate: $\\theta_{t+1} = \\Sigma_k\\, n_k \\theta_k \\;/\\; \\Sigma_k\\, n_k$",
         SERVER_COLOR, size=10.5)
    xs = [1.9 + 3.4 * k for k in range(n)]
    for k, (x, (name, holds)) in enumerate(zip(xs, clients, strict=True)):
        _box(ax, x, 1.55, 3.0, 2.1, "", CLIENT_COLOR)
        ax.text(x, 2.35, f"client {name}", ha="center", va="center", fontsize=10.5, weight="bold")
        ax.text(x, 1.85, "2. train locally from $\\theta_t$\n$\\rightarrow \\theta_k$", ha="center",
                va="center", fontsize=9.5)
        _box(ax, x, 0.95, 2.5, 0.62, f"its data: {holds}\nnever sent", PRIVATE_COLOR, size=8.5)
        top = (x, 2.62)
        srv = (sx + (x - sx) * 0.55, 4.33)
        _arrow(ax, (srv[0] - 0.25, srv[1]), (top[0] - 0.25, top[1]),
               "1. broadcast $\\theta_t$" if k == 0 else "", text_offset=(-0.3, 0.0), ha="right")
        _arrow(ax, (top[0] + 0.25, top[1]), (srv[0] + 0.25, srv[1]),
               "3. send $\\theta_k$ and $n_k$" if k == n - 1 else "", text_offset=(0.3, 0.0),
               ha="left")
    ax.text(sx, 0.12, "only models and example counts cross; the server never sees an email",
            ha="center", va="center", fontsize=9, color=NOTE_COLOR, style="italic")
    return Diagram(fig, TITLES["fedavg_round"])


# ---------------------------------------------------------------------------
# notebook 03
# ---------------------------------------------------------------------------
def fedrecon_round():
    """One Federated Reconstruction round: what each client keeps, what it sends."""
    fig, ax = _canvas(12.0, 7.2, (11.4, 6.84))
    _title(ax, 6.0, 6.95, TITLES["fedrecon_round"])
    _box(ax, 6.0, 5.85, 8.2, 1.2,
         "server: item factors $V$ (global, one row per movie)\n"
         "5. $V \\leftarrow V - \\eta_s\\, \\Sigma_c\\, n_c \\Delta_c \\,/\\, \\Sigma_c\\, n_c$",
         SERVER_COLOR, size=10.5)
    for x, name in ((3.0, "client $c$ (one user)"), (9.0, "another sampled client")):
        _box(ax, x, 2.45, 5.4, 3.9, "", CLIENT_COLOR)
        ax.text(x, 4.15, name, ha="center", va="center", fontsize=10.5, weight="bold")
        _box(ax, x, 1.55, 4.8, 1.75,
             "stays on the device\n"
             "its ratings, cut into batches\n"
             "its user factor $u$: drawn afresh,\n"
             "reconstructed, then discarded",
             PRIVATE_COLOR, size=9)
        ax.text(x, 3.3,
                "2. reconstruct $u$ on the even batches, $V$ frozen\n"
                "3. update its copy $V_c$ on the odd batches, $u$ frozen",
                ha="center", va="center", fontsize=9)
        _arrow(ax, (x - 0.6, 5.23), (x - 0.6, 4.42), "1. $V$", text_offset=(-0.35, 0.0), ha="right")
        _arrow(ax, (x + 0.6, 4.42), (x + 0.6, 5.23), "4. $\\Delta_c = V - V_c,\\ n_c$",
               text_offset=(0.35, 0.0), ha="left")
    ax.text(6.0, 0.22, "the server never receives $u$; $\\Delta_c$ is nonzero only in the rows "
            "of the movies the user rated (notebook 02's leak again)",
            ha="center", va="center", fontsize=9, color=NOTE_COLOR, style="italic")
    return Diagram(fig, TITLES["fedrecon_round"])


# ---------------------------------------------------------------------------
# notebook 04
# ---------------------------------------------------------------------------
def _party(ax, x, name, columns, model, note):
    """One split-learning party's column at x: its name, its private columns, its model."""
    _box(ax, x, 3.0, 4.3, 5.0, "", CLIENT_COLOR)
    ax.text(x, 5.2, name, ha="center", va="center", fontsize=11, weight="bold")
    _box(ax, x, 4.25, 3.8, 0.95, columns, PRIVATE_COLOR, size=9)
    _box(ax, x, 2.65, 3.8, 1.7, model, "white", size=9)
    ax.text(x, 1.05, note, ha="center", va="center", fontsize=8.5, color=NOTE_COLOR)


def split_deepfm_cut(hidden_parts=(("DNN output", 32), ("FM sum $s_A$", 16),
                                   ("FM scalar $\\ell_A$", 1))):
    """The split DeepFM: what crosses the cut each way, per batch of B rows.

    hidden_parts: (name, columns) of alice's cut tensor, as ``minigrad.deepfm.hidden_parts``.
    """
    width = sum(c for _, c in hidden_parts)
    fig, ax = _canvas(12.0, 6.6, (11.4, 6.27))
    _title(ax, 6.0, 6.35, TITLES["split_deepfm_cut"])
    _party(ax, 2.45, "alice (feature party)", "her columns: user id, gender,\nage, occupation",
           "her base model\nfield embeddings $v_f$\nDNN [256, 32]\nFM share $s_A$, $\\ell_A$",
           "her optimizer steps\nher own weights")
    _party(ax, 9.55, "bob (label party)", "his columns: movie id, genres\nand the labels $y$",
           "his base model (same shape)\nfuse: DNN [256, 256, 32],\nFM from $s_A + s_B$\n"
           "$\\hat y$, loss $L$",
           "only he sees $\\hat y$, $y$ and $L$")
    ax.plot([6.0, 6.0], [0.35, 5.6], ls="--", color="#888888", lw=1.2)
    ax.text(6.0, 5.75, "the cut", ha="center", va="bottom", fontsize=9.5, color="#666666")
    parts = " | ".join(f"{name} ({c})" for name, c in hidden_parts)
    _arrow(ax, (4.65, 3.35), (7.35, 3.35), f"forward: $h$, B × {width}", text_offset=(0.0, 0.32))
    ax.text(6.0, 2.95, parts, ha="center", va="center", fontsize=7.5, color=NOTE_COLOR)
    _arrow(ax, (7.35, 2.2), (4.65, 2.2), f"backward: $\\partial L / \\partial h$, B × {width}",
           text_offset=(0.0, -0.32))
    ax.text(6.0, 0.15, "never crosses: raw columns, single field embeddings, weights, labels; "
            "what does cross still identifies a user (one cut row per user) "
            "and leaks labels (notebook 06)",
            ha="center", va="center", fontsize=8.5, color=NOTE_COLOR, style="italic")
    return Diagram(fig, TITLES["split_deepfm_cut"])


# ---------------------------------------------------------------------------
# notebook 05
# ---------------------------------------------------------------------------
def _mask_terms(num_clients):
    """(column labels, signs[u, column]) of y_u = x_u + PRG(b_u) + sum_v +-PRG(s_uv)."""
    pairs = [(u, v) for u in range(num_clients) for v in range(u + 1, num_clients)]
    labels = (["$x_u$", "$+\\mathrm{PRG}(b_u)$"]
              + [f"$\\mathrm{{PRG}}(s_{{{u + 1}{v + 1}}})$" for u, v in pairs])
    signs = np.zeros((num_clients, 2 + len(pairs)), dtype=int)
    signs[:, :2] = 1
    for j, (u, v) in enumerate(pairs):
        signs[u, 2 + j], signs[v, 2 + j] = 1, -1
    return labels, signs


def mask_cancellation(num_clients=3):
    """Bonawitz et al.'s masks as a table: client u's row holds the terms of its y_u; the
    pairwise columns add up to zero, the self-masks are removed with their shares."""
    if not 2 <= num_clients <= 5:
        raise ValueError(f"mask_cancellation: draw 2 to 5 clients, got {num_clients}")
    labels, signs = _mask_terms(num_clients)
    pairs = [(u, v) for u in range(num_clients) for v in range(u + 1, num_clients)]
    keys = ["x", "b", *pairs]
    cols = len(keys)
    cw, rh = 1.75, 0.8
    width, height = 1.6 + cw * cols + 2.3, rh * (num_clients + 2) + 1.6
    fig, ax = _canvas(width, height, (width * 0.9, height * 0.9))
    _title(ax, width / 2, height - 0.35, TITLES["mask_cancellation"])
    top = height - 1.15
    for j, label in enumerate(labels):
        ax.text(1.6 + cw * (j + 0.5), top, label, ha="center", va="center", fontsize=9.5)
    ax.text(1.6 + cw * cols + 1.15, top, "sent", ha="center", va="center", fontsize=9.5)
    pair_colors = ["#c9daf8", "#fce5cd", "#d9ead3", "#ead1dc", "#fff2cc", "#d0e0e3",
                   "#f4cccc", "#d9d2e9", "#cfe2f3", "#e6b8af"]
    for u in range(num_clients):
        y = top - rh * (u + 1)
        ax.text(0.8, y, f"client {u + 1}", ha="center", va="center", fontsize=10, weight="bold")
        for j, key in enumerate(keys):
            sign = signs[u, j]
            cx = 1.6 + cw * (j + 0.5)
            if sign == 0:
                ax.text(cx, y, "·", ha="center", va="center", fontsize=12, color="#aaaaaa")
                continue
            color = (PRIVATE_COLOR if key == "x" else SERVER_COLOR if key == "b"
                     else pair_colors[(j - 2) % len(pair_colors)])
            text = {"x": f"$x_{u + 1}$", "b": f"$+\\mathrm{{PRG}}(b_{u + 1})$"}.get(key)
            if text is None:
                text = "+ mask" if sign > 0 else "− mask"
            _box(ax, cx, y, cw - 0.2, rh - 0.14, text, color, size=8.5)
        ax.text(1.6 + cw * cols + 1.15, y, f"$y_{u + 1}$", ha="center", va="center", fontsize=10)
    y = top - rh * (num_clients + 1)
    ax.plot([1.0, 1.6 + cw * cols + 2.0], [y + rh / 2, y + rh / 2], color="#555555", lw=1.0)
    ax.text(0.8, y, "sum\nmod $2^{32}$", ha="center", va="center", fontsize=9.5, weight="bold")
    for j, key in enumerate(keys):
        cx = 1.6 + cw * (j + 0.5)
        text = {"x": "$\\Sigma_u\\, x_u$", "b": "$\\Sigma_u\\, \\mathrm{PRG}(b_u)$"}.get(key, "0")
        ax.text(cx, y, text, ha="center", va="center", fontsize=9.5,
                color="#1a7f37" if text == "0" else "black",
                weight="bold" if text == "0" else "normal")
    ax.text(1.6 + cw * cols + 1.15, y, "$\\Sigma_u\\, y_u$", ha="center", va="center", fontsize=10)
    y2 = y - rh
    ax.text(width / 2, y2 + 0.05,
            "the server learns $\\Sigma_u\\, y_u$; $t$ shares of each $b_u$ give it "
            "$\\Sigma_u\\, \\mathrm{PRG}(b_u)$, "
            "so it gets $\\Sigma_u\\, x_u$ and no single $x_u$",
            ha="center", va="center", fontsize=9, color=NOTE_COLOR, style="italic")
    return Diagram(fig, TITLES["mask_cancellation"])


def dp_fedavg_pipeline():
    """DP-FedAvg, left to right: sample, clip, sum, noise, divide; the accountant on the side."""
    fig, ax = _canvas(13.0, 4.8, (12.35, 4.56))
    _title(ax, 6.5, 4.55, TITLES["dp_fedavg_pipeline"])
    steps = [
        ("1. sample\neach of $N$ clients\njoins with prob. $q$", CLIENT_COLOR),
        ("2. clip, on the client\n"
         "$\\tilde\\Delta_k = \\Delta_k \\min(1, C / \\|\\Delta_k\\|)$", CLIENT_COLOR),
        ("3. sum, on the server\n$\\Sigma_k\\, \\tilde\\Delta_k$\n"
         "(one client moves\nit by at most $C$)", SERVER_COLOR),
        ("4. add noise\n$+\\ \\mathcal{N}(0,\\ z^2 C^2 I)$", SERVER_COLOR),
        ("5. divide by $qN$\n(public, not the\nnumber sampled)", SERVER_COLOR),
        ("6. update\n$\\theta \\leftarrow \\theta + $ average", SERVER_COLOR),
    ]
    xs = np.linspace(1.15, 11.85, len(steps))
    for x, (text, color) in zip(xs, steps, strict=True):
        _box(ax, x, 2.85, 1.95, 1.45, text, color, size=8.5)
    for a, b in zip(xs[:-1], xs[1:], strict=True):
        _arrow(ax, (a + 0.98, 2.85), (b - 0.98, 2.85))
    ax.text((xs[1] + xs[2]) / 2, 3.82, "what leaves the client", ha="center", va="center",
            fontsize=8.5, color=NOTE_COLOR)
    _box(ax, 6.5, 0.85, 9.2, 1.05,
         "accountant: each round is a sampled Gaussian mechanism with rate $q$ and noise $z$;\n"
         "Rényi DP adds up over $R$ rounds: $R\\,\\varepsilon_\\alpha$, "
         "then $(\\varepsilon, \\delta)$ = the best conversion over the orders $\\alpha$",
         "#f3f3f3", size=9)
    _arrow(ax, (xs[3], 2.1), (6.0, 1.4), "$z$", color="#888888", lw=1.2)
    _arrow(ax, (xs[0], 2.1), (3.2, 1.4), "$q$", color="#888888", lw=1.2)
    return Diagram(fig, TITLES["dp_fedavg_pipeline"])


# ---------------------------------------------------------------------------
# notebook 06
# ---------------------------------------------------------------------------
def label_leakage_geometry(num_points=40, base_rate=0.2, seed=0):
    """Why bob's gradients give the labels away, in two dimensions (a schematic).

    Each row's gradient is g_i = (p_i - y_i)/B * J_i. The J_i point roughly one way; the
    residual p_i - y_i is negative for positives and positive for negatives, and larger for
    the minority class. Points are drawn from ``default_rng(seed)``: a picture, not data.
    """
    if not (isinstance(num_points, int | np.integer) and num_points >= 2):
        raise ValueError(f"label_leakage_geometry: num_points must be an int >= 2, "
                         f"got {num_points!r}")
    if not 0 < base_rate < 0.5:
        raise ValueError(f"label_leakage_geometry: base_rate must be in (0, 0.5), got {base_rate}")
    rng = np.random.default_rng(seed)
    angles = rng.normal(0.35, 0.35, num_points)
    J = np.c_[np.cos(angles), np.sin(angles)] * rng.uniform(0.8, 1.2, (num_points, 1))
    y = (rng.random(num_points) < base_rate).astype(float)
    y[0] = 1.0  # the known positive k
    p = np.clip(rng.normal(base_rate, 0.08, num_points), 0.02, 0.98)
    g = (p - y)[:, None] * J
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    fig = Figure(figsize=(11.0, 4.6), dpi=100)
    ax_j, ax_g = fig.subplots(1, 2)
    for ax in (ax_j, ax_g):
        ax.axhline(0, color="#cccccc", lw=0.8)
        ax.axvline(0, color="#cccccc", lw=0.8)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    for i in range(num_points):
        color = "C3" if y[i] else "C0"
        ax_j.annotate("", xy=J[i], xytext=(0, 0),
                      arrowprops=dict(arrowstyle="-|>", color=color, lw=0.9, alpha=0.8))
        ax_g.annotate("", xy=g[i], xytext=(0, 0),
                      arrowprops=dict(arrowstyle="-|>", color=color, lw=1.4 if i == 0 else 0.9,
                                      alpha=1.0 if i == 0 else 0.8))
    ax_j.set(xlim=(-0.4, 1.4), ylim=(-0.6, 1.3),
             title="$J_i = \\partial z_i / \\partial h_i$: the same for both classes")
    lim = 1.15
    ax_g.set(xlim=(-lim, 0.55), ylim=(-lim * 0.95, 0.55),
             title="$g_i \\propto (p_i - y_i)\\,J_i$: the residual flips and scales")
    radius = 0.5
    ax_g.add_patch(Circle((0, 0), radius, fill=False, ls="--", color="#777777"))
    ax_g.text(radius * 0.72, -radius * 0.72 - 0.05, "norm attack:\nlong = positive", fontsize=8.5,
              color="#555555", ha="left", va="top")
    k = g[0] / np.linalg.norm(g[0])
    normal = np.array([-k[1], k[0]])
    ax_g.plot([-normal[0] * 1.2, normal[0] * 1.2], [-normal[1] * 1.2, normal[1] * 1.2],
              ls=":", color="#444444")
    ax_g.annotate("known positive $g_k$", xy=g[0], xytext=(g[0][0] + 0.25, g[0][1] - 0.15),
                  fontsize=8.5, arrowprops=dict(arrowstyle="-", color="#777777", lw=0.8))
    ax_g.text(-1.1, 0.42,
              "direction attack: $\\cos(g_i, g_k) > 0$\non $g_k$'s side of the dotted line",
              fontsize=8.5, color="#555555", ha="left", va="top")
    handles = [Line2D([], [], color="C3", lw=2,
                      label="positive ($y_i = 1$): $p_i - y_i < 0$"),
               Line2D([], [], color="C0", lw=2,
                      label="negative ($y_i = 0$): $0 < p_i - y_i$ small")]
    ax_g.legend(handles=handles, loc="lower right", fontsize=8.5, frameon=True)
    fig.suptitle(TITLES["label_leakage_geometry"],
                 fontsize=12, weight="bold")
    fig.tight_layout()
    return Diagram(fig, TITLES["label_leakage_geometry"])
