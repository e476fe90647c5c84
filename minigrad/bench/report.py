"""The README's performance table: rows from one run's BENCH figures, and its README block."""

from pathlib import Path

from .data import DATA_TARGETS
from .deepfm import DEEPFM_PEERS, DEEPFM_TARGETS
from .fedrecon import FEDRECON_PEERS, FEDRECON_TARGETS
from .spam import SPAM_TARGETS

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS_DIR = REPO_ROOT / "docs" / "performance"
README_MARKERS = ("<!-- perf-table:start -->", "<!-- perf-table:end -->")


def _ok(flag):
    return "ok" if flag else "**not met**"


def _against_reference(label, seconds, reference, speedup, peers, goal, met):
    """A row timed against a reference of the same run: seconds, 'Nx faster', the goal judged."""
    return (label, f"{seconds:.3f} s", reference, f"{speedup:.0f}x faster", peers,
            f"{goal}: {_ok(met)}")


def performance_table(results, machine=""):
    """The README's performance table (Markdown) from ``{workload: BENCH figures}`` of one run.

    Workloads absent from ``results`` get no row. Ratios are the ones measured in the
    same process; peer figures are anchors measured in other runs.
    """
    rows = []
    spam = results.get("spam")
    if spam:
        rows.append(_against_reference(
            "spam, one epoch of the book's recipe (Enron, 62 batches of 500)", spam["epoch_s"],
            f"book's algorithm (per-row loop): {spam['book_loop_epoch_s']:.1f} s*",
            spam["speedup_vs_book"],
            "book's framework 26.6 s; PyTorch eager 0.48 s; plain NumPy 0.09-0.10 s",
            f"<= {SPAM_TARGETS['epoch_s']} s and >= {SPAM_TARGETS['speedup_vs_book']:g}x the book",
            spam["within_targets"]))
    fed = results.get("fedrecon")
    if fed:
        goal_s = FEDRECON_TARGETS["tutorial_20_rounds_s"]
        rows.append(_against_reference(
            "FedRecon, the TFF tutorial's 20 rounds (ml-100k)", fed["tutorial_20_rounds_s"],
            f"per-client loop: {fed['reference_20_rounds_s']:.2f} s", fed["speedup_vs_reference"],
            f"TFF 0.87 {FEDRECON_PEERS['tff_0.87_20_rounds_s']} s; PyTorch loop "
            f"{FEDRECON_PEERS['pytorch_loop_20_rounds_s']} s",
            f"<= {goal_s} s", fed["tutorial_20_rounds_s"] <= goal_s))
    dfm = results.get("deepfm")
    if dfm:
        anchor = DEEPFM_PEERS["pytorch_step_s"]
        rows.append((
            "split DeepFM, one step (ml-100k, batch 128, Adam)",
            f"{dfm['step_s'] * 1e3:.2f} ms",
            f"plain NumPy, no graph: {dfm['numpy_step_s'] * 1e3:.2f} ms",
            f"{dfm['step_s'] / dfm['numpy_step_s']:.2f}x the lower bound "
            f"({dfm['numpy_fraction']:.0%} NumPy, {dfm['python_overhead_fraction']:.0%} Python)",
            f"PyTorch eager {anchor * 1e3:.1f} ms",
            f"<= {DEEPFM_TARGETS['step_vs_pytorch']:g}x PyTorch eager, measured beside it; "
            f"against the anchor (another run, another load): x{dfm['step_s'] / anchor:.2f}"))
        rows.append((
            f"split DeepFM, one epoch ({dfm['steps_per_epoch']} steps)",
            f"{dfm['epoch_s']:.2f} s", "-", "-",
            f"PyTorch eager {DEEPFM_PEERS['pytorch_epoch_s']} s", "-"))
    ker = results.get("kernels")
    if ker:
        for case in ker["cases"]:
            best = min(case["median_s"], key=case["median_s"].get)
            auto = case["auto"]
            rows.append((
                f"embedding backward (scatter-add), {case['case'].split(': ')[-1]}",
                f"{case['median_s'][auto] * 1e3:.2f} ms ({auto})",
                f"the book's per-row loop: {case['median_s']['loop'] * 1e3:.1f} ms",
                f"{case['speedup_vs_loop'][auto]:.0f}x faster",
                "-", f"- (fastest in this run: {best})"))
    data = results.get("data")
    if data:
        for key, label in (("ml100k_load_s", "load ml-100k"),
                           ("enron_load_s", f"load Enron-Spam ({data['enron_emails']:,} emails)"),
                           ("enron_tokenize_index_s", "tokenize and index Enron-Spam")):
            rows.append((label, f"{data[key]:.2f} s", "-", "-", "-",
                         f"< {DATA_TARGETS[key]:g} s: {_ok(data[key] < DATA_TARGETS[key])}"))
    header = ("| workload | minigrad | reference, same run | ratio | peers (other runs, same "
              "machine class) | goal |\n|---|---|---|---|---|---|\n")
    body = "".join("| " + " | ".join(row) + " |\n" for row in rows)
    notes = ["Medians of at least 5 runs (spam: epochs; FedRecon: 20-round runs; DeepFM: "
             "steps and epochs), measured by `python -m minigrad.bench all`; each ratio is "
             "against a reference timed in the same process."]
    if spam:
        notes.append(f"\\* extrapolated from {spam['book_loop_batches_timed']} timed batches.")
    if machine:
        notes.append(f"Machine: {machine}.")
    return header + body + "\n" + " ".join(notes) + "\n"


def update_readme(table, readme=None):
    """Put ``table`` between README_MARKERS in ``readme`` (default: the repo's README.md).

    Returns True if the file held both markers (and now holds the table between them),
    False if it holds no markers (the file is left as it is). Anything else raises.
    """
    path = Path(readme) if readme is not None else REPO_ROOT / "README.md"
    if not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    start, end = README_MARKERS
    i, j = text.find(start), text.find(end)
    if i < 0 and j < 0:
        return False
    if i < 0 or j < 0 or j < i or text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"{path}: expected one {start} before one {end}")
    new = text[:i + len(start)] + "\n" + table.rstrip("\n") + "\n" + text[j:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return True
