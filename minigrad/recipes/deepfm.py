"""Split DeepFM on vertically partitioned MovieLens: notebook 04's pipeline as functions.

    data = prepare(load_movielens("ml-100k"), seed=0)   # both parties' ids, labels, row split
    alice, bob = make_parties(data, seed=0)              # SecretFlow's SplitRec sizes
    history = train(SplitModel(alice, bob), data, num_epochs=5, seed=0)
    central = JointModel.centralized(alice, bob)         # the same weights, in one graph

The row split, the seeding and what follows SecretFlow's tutorial: docs/splitrec.md.
"""

import copy
import time
from dataclasses import dataclass

import numpy as np

from .. import metrics
from ..datasets.partitions import train_test_split_rows, vertical_split
from ..deepfm import Aggregation, CentralizedDeepFM, DeepFMBase, DeepFMFuse
from ..federated import compression, split
from ..federated.params import num_bytes
from ..optim import Adam
from ..tensor import no_grad

__all__ = [
    "AGE_BOUNDS",
    "PartyFeatures",
    "alice_features",
    "bob_features",
    "DeepFMData",
    "prepare",
    "holdout_rows",
    "make_parties",
    "SplitModel",
    "JointModel",
    "train",
    "linear_decay",
    "validate_schedules",
    "best_epoch",
    "gradient_equivalence",
    "message_bytes",
    "epoch_bytes",
    "COMPRESSION_VARIANTS",
    "compression_runs",
    "SECRETFLOW",
]

SECRETFLOW = {
    "dataset": "ml-1m", "rows": 1000, "epochs": 5, "batch_size": 128, "optimizer": "Adam",
    "lr": 1e-3, "fm_embedding_dim": 16, "base_units": (256, 32), "fuse_units": (256, 256, 32),
    "train_auc_epoch_5": 0.664, "shuffle": False,
}
"""SecretFlow's SplitRec DeepFM tutorial (sl_rec_deepfm.ipynb): its settings and result.

It trains on the first 1,000 ratings of ml-1m, with no held-out data, and reports the
training AUC of each epoch (Keras' ``AUC()``, 0.6639 at epoch 5).
"""


# ---------------------------------------------------------------------------
# data: the two parties' columns and one split of the rows
# ---------------------------------------------------------------------------
AGE_BOUNDS = (18, 25, 35, 45, 50, 56)
"""Cut points of ML-1M's 7 age groups; ml-100k's raw ages are binned at the same ones."""


@dataclass
class PartyFeatures:
    """A party's fields as integer ids: X (R, sum(slots)), -1 marks an empty slot.

    cardinalities / slots per field (for ``minigrad.deepfm.DeepFMBase``), the field names, and
    each categorical field's vocabulary (id -> original value).
    """

    X: np.ndarray
    cardinalities: tuple
    slots: tuple
    names: tuple
    vocabularies: dict

    def __len__(self):
        return len(self.X)


def _codes(column):
    values, codes = np.unique(np.asarray(column), return_inverse=True)
    return codes.astype(np.intp), values.tolist()


def alice_features(alice):
    """alice's DataFrame (datasets.vertical_split) -> PartyFeatures of 4 one-hot fields.

    user_id (ids as given, 0..max), gender, age group (``AGE_BOUNDS``) and occupation
    (sorted distinct values).
    """
    user = alice["user_id"].to_numpy(dtype=np.intp)
    gender, gender_vocab = _codes(alice["gender"])
    age = np.digitize(alice["age"].to_numpy(), AGE_BOUNDS).astype(np.intp)
    occupation, occupation_vocab = _codes(alice["occupation"])
    X = np.stack([user, gender, age, occupation], axis=1)
    return PartyFeatures(X, (int(user.max()) + 1, len(gender_vocab), len(AGE_BOUNDS) + 1,
                             len(occupation_vocab)), (1, 1, 1, 1),
                         ("user_id", "gender", "age", "occupation"),
                         {"gender": gender_vocab, "age": list(AGE_BOUNDS),
                          "occupation": occupation_vocab})


def bob_features(bob, genre_names):
    """bob's DataFrame -> (PartyFeatures of item_id and multi-hot genres, labels (R,)).

    Genres are a bag: ``max_genres`` slots of genre ids, -1 where a movie has fewer.
    """
    item = bob["item_id"].to_numpy(dtype=np.intp)
    lookup = {g: i for i, g in enumerate(genre_names)}
    genres = bob["genres"]
    lengths = genres.map(len).to_numpy()
    width = max(int(lengths.max()) if len(lengths) else 0, 1)
    flat = genres.explode().dropna()
    unknown = set(flat.unique()) - set(lookup)
    if unknown:
        raise ValueError(f"bob_features: genres {sorted(unknown)[:5]} are not in genre_names")
    row = np.repeat(np.arange(len(bob)), lengths)
    col = np.arange(len(row)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    bag = np.full((len(bob), width), -1, dtype=np.intp)
    bag[row, col] = flat.map(lookup).to_numpy(dtype=np.intp)
    X = np.concatenate([item[:, None], bag], axis=1)
    y = bob["label"].to_numpy(dtype=np.int64)
    return (PartyFeatures(X, (int(item.max()) + 1, len(genre_names)), (1, width),
                          ("item_id", "genres"), {"genres": list(genre_names)}), y)


@dataclass(repr=False)
class DeepFMData:
    """Both parties' features of the same rating rows, the labels, and the row split.

    user: alice's ``PartyFeatures`` (user id, gender, age group, occupation);
    item: bob's (movie id, genres bag); y (R,) int64 labels, rating > 3 (bob's);
    train / val / test: sorted int64 row positions, disjoint, covering 0..R-1.
    """

    name: str
    user: PartyFeatures
    item: PartyFeatures
    y: np.ndarray
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def rows(self, part):
        """The row positions of 'train', 'val' or 'test'."""
        if part not in ("train", "val", "test"):
            raise ValueError(f"part must be 'train', 'val' or 'test', got {part!r}")
        return getattr(self, part)

    def refit(self):
        """The same rows with the validation slice given back to training: train = train
        and val together (sorted), val empty, test unchanged.

        For the final model, once validation has chosen the settings and the epoch count:
        it then learns from every row that is not a test row.
        """
        train = np.sort(np.concatenate([self.train, self.val]))
        return DeepFMData(self.name, self.user, self.item, self.y, train,
                          np.zeros(0, dtype=np.int64), self.test)

    def __repr__(self):
        share = {p: f"{len(self.rows(p)):,}" + (f" ({self.y[self.rows(p)].mean():.3f} positive)"
                                               if len(self.rows(p)) else "")
                 for p in ("train", "val", "test")}
        return (f"DeepFMData({self.name!r}: {len(self.y):,} rows; train {share['train']}, "
                f"val {share['val']}, test {share['test']})")


def holdout_rows(n, rng, test_fraction=0.2, val_fraction=0.1):
    """Random train / val / test row positions: -> {'train', 'val', 'test'} sorted int64.

    test: round(n * test_fraction) rows; val: round(val_fraction * the rest), carved from
    the training rows; train: what is left. ``rng``: an np.random.Generator.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    rest, test = train_test_split_rows(n, test_fraction, rng)
    keep, val = train_test_split_rows(len(rest), val_fraction, rng)
    return {"train": rest[keep], "val": rest[val], "test": test}


def prepare(movielens, seed=0, test_fraction=0.2, val_fraction=0.1, label_threshold=3):
    """MovieLens -> DeepFMData: ``vertical_split``, each party's ids, a seeded row split."""
    alice_df, bob_df = vertical_split(movielens, label_threshold)
    user = alice_features(alice_df)
    item, y = bob_features(bob_df, movielens.genre_names)
    parts = holdout_rows(len(y), np.random.default_rng(seed), test_fraction, val_fraction)
    return DeepFMData(movielens.name, user, item, y, parts["train"], parts["val"],
                      parts["test"])


# ---------------------------------------------------------------------------
# the models
# ---------------------------------------------------------------------------
def make_parties(data, seed=0, dtype=np.float32, aggregation="concat", lr=1e-3, dim=16,
                 units=(256, 32), fuse_units=(256, 256, 32), codecs=(None, None)):
    """alice and bob of the split DeepFM (SecretFlow's sizes by default) on ``data``'s rows.

    data: a DeepFMData (or anything with ``user``, ``item``, ``y``). One
    ``np.random.default_rng(seed)`` draws alice's base, then bob's, then the fuse.
    Each party gets Adam(lr). codecs: (alice's, bob's), what each compresses its cut
    tensors with (``compression.get_codec`` names or codecs).
    """
    user, item = data.user, data.item
    rng = np.random.default_rng(seed)
    alice_base = DeepFMBase(user.cardinalities, user.slots, dim=dim, units=units, rng=rng,
                            dtype=dtype)
    bob_base = DeepFMBase(item.cardinalities, item.slots, dim=dim, units=units, rng=rng,
                          dtype=dtype)
    width = Aggregation(aggregation).output_dim([alice_base.deep_dim, bob_base.deep_dim])
    fuse = DeepFMFuse(width, units=fuse_units, rng=rng, dtype=dtype)
    alice = split.Alice(user.X, alice_base, lr=lr, codec=codecs[0])
    bob = split.Bob(item.X, data.y, bob_base, fuse, aggregation=aggregation, lr=lr,
                    codec=codecs[1])
    return alice, bob


class SplitModel:
    """alice and bob training through messages; training bytes counted per epoch.

    ``channel`` counts the training messages (reset at each epoch's start by ``train``);
    ``eval_channel`` the evaluation ones (alice's cut tensors only: no gradient goes back).
    """

    kind = "split"

    def __init__(self, alice, bob):
        self.alice, self.bob = alice, bob
        self.channel = split.Channel()
        self.eval_channel = split.Channel()

    def set_lr(self, lr):
        """Set both parties' step size (each owns its optimizer; they agree on a schedule)."""
        self.alice.optimizer.alpha = self.bob.optimizer.alpha = float(lr)

    def train_epoch(self, rows, batch_size=128, rng=None):
        """One pass over ``rows`` in (shuffled, with ``rng``) batches: mean batch loss."""
        return split.train_epoch(self.alice, self.bob, rows, batch_size, rng, self.channel)

    def predict(self, rows):
        """Probabilities (len(rows),), vectorized, no graph."""
        return split.predict(self.alice, self.bob, rows, self.eval_channel)

    def labels(self, rows):
        return self.bob.labels(rows)


class JointModel:
    """A ``CentralizedDeepFM`` over all its fields' ids ``Xs``, with labels ``y``, Adam(lr).

    ``centralized(alice, bob)``: both parties' fields, a copy of their weights.
    ``alone(party, ...)``: one party's fields only, its base copied and a fresh fuse.
    """

    kind = "joint"

    def __init__(self, model, Xs, y, lr=1e-3):
        self.model = model
        self.Xs = [np.asarray(X) for X in Xs]
        dtype = model.get_parameters()[0].data.dtype
        self.y = np.asarray(y).astype(dtype).reshape(-1, 1)
        if any(len(X) != len(self.y) for X in self.Xs):
            raise ValueError(f"JointModel: feature rows {[len(X) for X in self.Xs]} differ "
                             f"from the {len(self.y)} labels")
        self.optimizer = Adam(model.get_parameters(), lr)

    @classmethod
    def centralized(cls, alice, bob, lr=1e-3):
        """The centralized DeepFM with copies of alice's and bob's current weights."""
        model = CentralizedDeepFM.from_parties([alice.model, bob.model], bob.fuse,
                                               bob.aggregation.mode)
        return cls(model, [alice.X, bob.X], bob.y, lr)

    @classmethod
    def alone(cls, base, X, y, seed=0, fuse_units=(256, 256, 32), lr=1e-3):
        """One party's DeepFM: a copy of ``base`` on its ids ``X`` (R, S), a new fuse.

        The fuse (SecretFlow's sizes by default) is drawn from np.random.default_rng(seed);
        the FM then spans this party's fields only.
        """
        dtype = base.get_parameters()[0].data.dtype
        fuse = DeepFMFuse(base.deep_dim, units=fuse_units, rng=np.random.default_rng(seed),
                          dtype=dtype)
        return cls(CentralizedDeepFM([copy.deepcopy(base)], fuse), [X], y, lr)

    def set_lr(self, lr):
        """Set the optimizer's step size."""
        self.optimizer.alpha = float(lr)

    def train_epoch(self, rows, batch_size=128, rng=None):
        """One pass over ``rows`` in (shuffled, with ``rng``) batches: mean batch loss."""
        losses = []
        for b in split.batches(rows, batch_size, rng):
            loss = self.model([X[b] for X in self.Xs]).bce_with_logits(self.y[b])
            loss.backward()
            self.optimizer.step()
            losses.append(float(loss.data))
        return float(np.mean(losses)) if losses else float("nan")

    def predict(self, rows, batch_size=65536):
        """Probabilities (len(rows),), in vectorized blocks of ``batch_size`` rows, no graph."""
        rows = np.asarray(rows)
        out = []
        with no_grad():
            for b in split.batches(rows, batch_size):
                out.append(self.model([X[b] for X in self.Xs]).sigmoid().data.reshape(-1))
        return np.concatenate(out) if out else np.zeros(0, dtype=self.y.dtype)

    def labels(self, rows):
        return self.y[rows].reshape(-1)


# ---------------------------------------------------------------------------
# training: per-epoch metrics on validation and test rows
# ---------------------------------------------------------------------------
def linear_decay(lr, num_epochs):
    """Per-epoch step sizes falling linearly from ``lr`` towards 0 over ``num_epochs``:
    epoch e (1-based) trains with lr * (1 - (e - 1) / num_epochs).

    linear_decay(3e-3, 5) -> [0.003, 0.0024, 0.0018, 0.0012, 0.0006]. Large steps early
    move fast; small steps late settle, instead of bouncing around the minimum at a
    constant step. A schedule belongs to the training run, so it is chosen on validation
    like any other setting (``validate_schedules``).
    """
    if int(num_epochs) != num_epochs or num_epochs < 1:
        raise ValueError(f"linear_decay: num_epochs must be a positive integer, got {num_epochs}")
    if not lr > 0:
        raise ValueError(f"linear_decay: lr must be positive, got {lr}")
    n = int(num_epochs)
    return [lr * (1.0 - e / n) for e in range(n)]


def train(model, data, num_epochs, batch_size=128, seed=0, parts=("val", "test"),
          threshold=0.5, lrs=None):
    """Train ``model`` (SplitModel or JointModel) on data.train; -> one record per epoch.

    Batches are shuffled each epoch by np.random.default_rng(seed). ``lrs``: one step
    size per epoch (e.g. ``linear_decay(3e-3, 5)``; at least ``num_epochs`` of them), or
    None to keep the optimizers' own. After each epoch the model is scored on every part
    in ``parts`` (metrics.binary_metrics: loss, auc, precision, recall, accuracy).
    Record: {'epoch', 'lr', 'train_loss', 'val', 'test', 'seconds'} and, for a
    SplitModel, 'bytes' {'alice_to_bob', 'bob_to_alice'} sent during that epoch's training.
    """
    if int(num_epochs) != num_epochs or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive integer, got {num_epochs}")
    if lrs is not None and len(lrs) < num_epochs:
        raise ValueError(f"train: lrs has {len(lrs)} step sizes for {num_epochs} epochs")
    for part in parts:
        if len(data.rows(part)) == 0:
            raise ValueError(f"train: the '{part}' rows are empty (after refit(), score "
                             f"parts=('test',))")
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(1, int(num_epochs) + 1):
        if lrs is not None:
            model.set_lr(lrs[epoch - 1])
        if model.kind == "split":
            model.channel.reset()
        t0 = time.perf_counter()
        loss = model.train_epoch(data.train, batch_size, rng)
        record = {"epoch": epoch, "lr": None if lrs is None else float(lrs[epoch - 1]),
                  "train_loss": loss, "seconds": time.perf_counter() - t0}
        if model.kind == "split":
            record["bytes"] = {"alice_to_bob": model.channel.bytes_sent("alice", "bob"),
                               "bob_to_alice": model.channel.bytes_sent("bob", "alice")}
        for part in parts:
            rows = data.rows(part)
            record[part] = metrics.binary_metrics(model.labels(rows), model.predict(rows),
                                                  threshold)
        history.append(record)
    return history


def validate_schedules(data, schedules, num_epochs, seeds=(0,), batch_size=128, **kw):
    """Validation AUC per epoch of the split model under each step-size schedule.

    schedules: {name: per-epoch step sizes (a list, e.g. ``linear_decay(2e-3, 5)``)}.
    For each schedule and seed, a fresh ``make_parties(data, seed, **kw)`` is trained
    ``num_epochs`` epochs and scored on the validation rows only: the test rows are
    never touched. -> {name: array (len(seeds), num_epochs) of validation AUCs}.
    """
    out = {}
    for name, lrs in schedules.items():
        aucs = []
        for seed in seeds:
            alice, bob = make_parties(data, seed=seed, **kw)
            history = train(SplitModel(alice, bob), data, num_epochs, batch_size, seed,
                            parts=("val",), lrs=lrs)
            aucs.append([r["val"]["auc"] for r in history])
        out[name] = np.array(aucs)
    return out


def best_epoch(history, part="val", metric="auc"):
    """The record of the epoch with the best ``metric`` on ``part`` (highest AUC, precision,
    recall or accuracy; lowest loss); the earliest wins a tie."""
    if not history:
        raise ValueError("best_epoch: the history is empty")
    if part not in history[0]:
        raise KeyError(f"best_epoch: the history has no '{part}' metrics (trained with "
                       f"parts={tuple(k for k in history[0] if isinstance(history[0][k], dict))})")
    sign = -1.0 if metric == "loss" else 1.0
    scores = [sign * record[part][metric] for record in history]
    return history[int(np.argmax(scores))]


# ---------------------------------------------------------------------------
# the equivalence proof
# ---------------------------------------------------------------------------
def _split_gradients(alice, bob, rows):
    """One protocol round trip without optimizer steps: (logits (B, 1), {name: grad})."""
    hidden = alice.model.hidden(alice.X[rows])                          # alice
    message = split.Message("alice", "bob", "hidden", {"values": hidden.data},
                            batch=split.batch_id(rows, len(alice.X)))
    logits, parts = bob.logits(rows, [message])                        # bob
    logits.bce_with_logits(bob.y[rows]).backward()
    cut_grad = np.concatenate([p.grad for p in parts[0]], axis=1)      # what bob sends back
    hidden.backward(cut_grad)                                          # alice
    named = [("alice." + n, p) for n, p in alice.model.named_parameters()] + \
        [("bob." + n, p) for n, p in bob.model.named_parameters()] + \
        [("fuse." + n, p) for n, p in bob.fuse.named_parameters()]
    grads = {n: p.grad.copy() for n, p in named}
    for _, p in named:
        p.grad = None
    return logits.data.copy(), grads


def _central_gradients(model, Xs, y):
    """Logits and {split-side name: grad} of the centralized model on one batch."""
    logits = model(Xs)
    logits.bce_with_logits(y).backward()
    names = {"bases.0.": "alice.", "bases.1.": "bob.", "fuse.": "fuse."}
    grads = {}
    for name, p in model.named_parameters():
        prefix = next(k for k in names if name.startswith(k))
        grads[names[prefix] + name[len(prefix):]] = p.grad.copy()
        p.grad = None
    return logits.data.copy(), grads


def gradient_equivalence(alice, bob, rows):
    """Split vs centralized DeepFM with the same weights on one batch ``rows``, no step.

    The centralized model is built from copies of alice's and bob's weights; both compute
    the logits and the BCE gradient of every parameter. Returns {'max_output_diff',
    'max_grad_diff', 'max_abs_grad', 'parameters': [(name, shape, max |grad|, max diff)]}
    (absolute differences; use float64 parties to see rounding alone).
    """
    central = CentralizedDeepFM.from_parties([alice.model, bob.model], bob.fuse,
                                             bob.aggregation.mode)
    split_logits, split_grads = _split_gradients(alice, bob, rows)
    central_logits, central_grads = _central_gradients(
        central, [alice.X[rows], bob.X[rows]], bob.y[rows])
    if set(split_grads) != set(central_grads):
        raise AssertionError(f"parameter names differ: "
                             f"{sorted(set(split_grads) ^ set(central_grads))}")
    table = [(name, g.shape, float(np.abs(g).max()),
              float(np.abs(g - central_grads[name]).max())) for name, g in split_grads.items()]
    return {"max_output_diff": float(np.abs(split_logits - central_logits).max()),
            "max_grad_diff": max(row[3] for row in table),
            "max_abs_grad": max(row[2] for row in table),
            "parameters": table}


# ---------------------------------------------------------------------------
# communication
# ---------------------------------------------------------------------------
def message_bytes(codec, batch, width, dtype=np.float32):
    """Bytes of one cut-tensor message (batch, width) under ``codec`` (its payload size).

    Every codec here has a payload size fixed by the shape (TopK keeps exactly k), so
    encoding zeros gives the size of any message of that shape.
    """
    codec = compression.get_codec(codec)
    return num_bytes(codec.encode(np.zeros((batch, width), dtype=dtype)))


def epoch_bytes(codec, num_rows, width, batch_size=128, dtype=np.float32):
    """Bytes of the messages one way in one training epoch of ``num_rows`` rows."""
    full, last = divmod(int(num_rows), int(batch_size))
    total = full * message_bytes(codec, batch_size, width, dtype)
    return total + (message_bytes(codec, last, width, dtype) if last else 0)


COMPRESSION_VARIANTS = {
    "float32 (SplitRec)": (None, None),
    "float16 both ways": ("float16", "float16"),
    "int8 both ways": ("int8", "int8"),
    "top-10% gradients": (None, "topk:0.1"),
    "top-10% both ways": ("topk:0.1", "topk:0.1"),
}
"""name -> (alice's codec for the cut tensors, bob's codec for the gradients)."""


def compression_runs(data, num_epochs, variants=None, seed=0, batch_size=128, lrs=None,
                     parts=("val", "test"), **kw):
    """Train the split model once per codec pair: -> {name: history} (see ``train``).

    variants: {name: (alice's codec, bob's codec)}, default ``COMPRESSION_VARIANTS``.
    Every run starts from make_parties(data, seed) and sees the same batches, so the
    runs differ only by their codecs. ``lrs`` (per-epoch step sizes) and ``parts`` (what
    is scored after each epoch) go to ``train``; ``kw`` to ``make_parties``.
    """
    variants = COMPRESSION_VARIANTS if variants is None else variants
    runs = {}
    for name, codecs in variants.items():
        alice, bob = make_parties(data, seed=seed, codecs=codecs, **kw)
        runs[name] = train(SplitModel(alice, bob), data, num_epochs, batch_size, seed,
                           parts=parts, lrs=lrs)
    return runs
