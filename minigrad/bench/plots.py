"""The scaling figures drawn: PNGs and the scaling.md that shows them."""

import numpy as np

from .deepfm import DEEPFM_PEERS
from .spam import SPAM_TARGETS

DEEPFM_ML1M_PYTORCH_EPOCH_S = (49.0, 51.0)
"""PyTorch eager's split-DeepFM epoch on an ML-1M-shaped table (not this run)."""


def _save(fig, path):
    """``fig`` laid out and written to ``path`` (PNG, 110 dpi), then closed; returns ``path``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_scaling(figures, docs_dir):
    """PNGs of the scaling figures into ``docs_dir``; returns their paths."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fed = figures.get("fedrecon")
    if fed:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        k = [r["clients_per_round"] for r in fed["clients"]]
        s = [r["round_s"] * 1e3 for r in fed["clients"]]
        axes[0].loglog(k, s, "o-", label="measured")
        axes[0].loglog(k, [s[0] * x / k[0] for x in k], ":", color="gray",
                       label="proportional to clients")
        axes[0].set(xlabel="clients per round", ylabel="ms per round",
                    title="FedRecon: round time vs clients per round")
        m = [r["largest_client"] for r in fed["ratings"]]
        s2 = [r["round_s"] * 1e3 for r in fed["ratings"]]
        axes[1].loglog(m, s2, "s-", color="C1", label="measured, 50 clients a round")
        axes[1].loglog(m, [s2[0] * x / m[0] for x in m], ":", color="gray",
                       label="proportional to the cap")
        axes[1].set(xlabel="ratings cap per client (the largest client's ratings)",
                    ylabel="ms per round", title="FedRecon: round time vs ratings per client")
        for ax in axes:
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
        paths.append(_save(fig, docs_dir / "fedrecon_scaling.png"))
    dfm = figures.get("deepfm")
    if dfm:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
        x = np.arange(len(dfm))
        axes[0].bar(x, [r["epoch_s_extrapolated"] for r in dfm], color="C0",
                    label="minigrad (median step x steps per epoch)")
        peers = [(i, DEEPFM_PEERS["pytorch_epoch_s"], 0.0) for i, r in enumerate(dfm)
                 if r["ratings"] == 100_000 and "synthetic" not in r["data"]]
        lo, hi = DEEPFM_ML1M_PYTORCH_EPOCH_S
        peers += [(i, (lo + hi) / 2, (hi - lo) / 2) for i, r in enumerate(dfm)
                  if r["ratings"] > 900_000 and r["users"] < 10_000]
        if peers:
            px, py, pe = zip(*peers, strict=True)
            axes[0].errorbar(px, py, yerr=pe, fmt="x", ms=10, color="C3",
                             label="PyTorch eager (other runs)")
        axes[0].set(xticks=x, ylabel="seconds per epoch (batch 128)", yscale="log",
                    title="split DeepFM: one epoch")
        axes[0].set_xticklabels([r["data"].replace(", ", ",\n") for r in dfm], fontsize=8)
        axes[0].legend(fontsize=8)
        rows = [r["users"] + r["items"] for r in dfm]
        axes[1].semilogx(rows, [r["step_s"] * 1e3 for r in dfm], "o", color="C0")
        for i, (r, n) in enumerate(zip(dfm, rows, strict=True)):
            axes[1].annotate(f"{i + 1}", (n, r["step_s"] * 1e3), fontsize=9,
                             xytext=(5, 3), textcoords="offset points")
        axes[1].text(0.02, 0.02, "\n".join(f"{i + 1}: {r['data']}" for i, r in enumerate(dfm)),
                     transform=axes[1].transAxes, fontsize=7, va="bottom")
        axes[1].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axes[1].set_xlim(min(rows) / 1.5, max(rows) * 1.5)
        axes[1].set(xlabel="embedding rows (users + movies)", ylabel="ms per step",
                    title="split DeepFM: time per step vs table size")
        axes[1].set_ylim(bottom=0)
        axes[1].grid(True, which="both", alpha=0.3)
        paths.append(_save(fig, docs_dir / "deepfm_scaling.png"))
    sp = figures.get("spam")
    if sp:
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        v = [r["vocab_size"] for r in sp]
        ax.loglog(v, [r["epoch_s"] for r in sp], "o-", label="minigrad, one epoch")
        real = [r for r in sp if r["real_vocabulary"]]
        if real:
            ax.loglog([real[0]["vocab_size"]], [real[0]["epoch_s"]], "*", ms=14, color="C1",
                      label="Enron's real vocabulary")
        ax.axhline(SPAM_TARGETS["epoch_s"], ls="--", color="gray", label="goal: 0.2 s")
        for mb, name in ((0.5, "L2 (512 KB/core)"), (32, "L3 (32 MB)")):
            if not min(v) / 2 <= mb * 1e6 / 4 <= max(v) * 2:
                continue
            ax.axvline(mb * 1e6 / 4, ls=":", color="C2")
            ax.text(mb * 1e6 / 4, ax.get_ylim()[0], f" float32 table = {name}", fontsize=7,
                    rotation=90, va="bottom", ha="right", color="C2")
        ax.set(xlabel="vocabulary size (rows of the Embedding table)",
               ylabel="seconds per epoch", title="spam: epoch time vs vocabulary size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
        ax.set_xlim(min(v) / 2, max(v) * 2)
        paths.append(_save(fig, docs_dir / "spam_vocab_scaling.png"))
    return paths


def scaling_markdown(figures, machine):
    lines = ["# Scaling (generated by `python -m minigrad.bench scaling`)", "",
             f"Machine: {machine}.", ""]
    fed = figures.get("fedrecon")
    if fed:
        lines += ["## FedRecon (TFF tutorial configuration, ml-100k)", "",
                  "![](fedrecon_scaling.png)", "", "| clients per round | ms per round |",
                  "|---|---|"]
        lines += [f"| {r['clients_per_round']} | {r['round_s'] * 1e3:.2f} |"
                  for r in fed["clients"]]
        lines += ["", "| ratings cap per client | mean ratings | largest client | ms per round "
                  "(50 clients) |", "|---|---|---|---|"]
        lines += [f"| {'all' if r['max_ratings'] is None else r['max_ratings']} | "
                  f"{r['mean_ratings']:.1f} | {r['largest_client']} | "
                  f"{r['round_s'] * 1e3:.2f} |" for r in fed["ratings"]]
        lines.append("")
    dfm = figures.get("deepfm")
    if dfm:
        lines += ["## Split DeepFM (batch 128, Adam)", "", "![](deepfm_scaling.png)", "",
                  "| data | ratings | users | items | ms per step | s per epoch (extrapolated) |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['data']} | {r['ratings']:,} | {r['users']:,} | {r['items']:,} | "
                  f"{r['step_s'] * 1e3:.2f} | {r['epoch_s_extrapolated']:.1f} |" for r in dfm]
        if "epoch_s_measured" in dfm[0]:
            lines.append(f"\nOne full epoch of {dfm[0]['data']} timed whole: "
                         f"{dfm[0]['epoch_s_measured']:.1f} s.")
        lines += ["", "Epochs are the median step times the steps per epoch (only a "
                  "fraction of an epoch is timed).", ""]
    sp = figures.get("spam")
    if sp:
        lines += ["## Spam (the book's recipe, Enron) against vocabulary size", "",
                  "![](spam_vocab_scaling.png)", "",
                  "| vocabulary | table MB (float32) | s per epoch |", "|---|---|---|"]
        lines += [f"| {r['vocab_size']:,}{' (real)' if r['real_vocabulary'] else ''} | "
                  f"{r['table_mb']:.2f} | {r['epoch_s']:.3f} |" for r in sp]
        lines += ["", "Smaller tables fold word ids onto fewer rows, larger ones spread "
                  "them out: every batch looks up and scatters the same number of ids.", ""]
    return "\n".join(lines)
