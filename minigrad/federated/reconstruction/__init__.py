"""Federated Reconstruction (Singhal et al., NeurIPS 2021) for matrix factorization.

    from minigrad.federated import reconstruction as fr
    spec = fr.MFSpec(num_items=ml.num_items, dim=50)
    train = fr.client_datasets(ml.ratings, users["train"], max_examples_per_user=300)
    state, history = fr.train(spec, fr.FedReconConfig(), train, num_rounds=20, rng=rng)
    fr.evaluate(spec, state.params, test, rng=np.random.default_rng(1))

Modules: ``mf`` (model, prediction, gradients), ``data``, ``plan`` (options, a round's
random draws), ``client``, ``server``, ``evaluation``, ``lockstep`` (all clients at once).
Design and fidelity to TensorFlow Federated's FedRecon: docs/fedrecon.md.
"""

from . import lockstep
from .client import (
    ClientUpdate,
    ClientUpdates,
    client_update_reference,
    clients_update,
    global_arrays,
    reconstruct_reference,
    updates_from_lockstep,
)
from .data import ClientRatings, client_datasets
from .evaluation import evaluate, evaluate_reference, reconstruct, score
from .mf import (
    GLOBAL_BIAS,
    ITEM_BIAS,
    ITEM_EMBEDDING,
    USER_BIAS,
    USER_EMBEDDING,
    MFSpec,
    PrivacyError,
    check_global_names,
    mf_loss_and_grads,
    mf_loss_autograd,
    predict,
    predict_rows,
)
from .plan import (
    EvalConfig,
    FedReconConfig,
    RoundPlan,
    epoch_passes,
    make_eval_plan,
    make_round_plan,
)
from .server import (
    ServerState,
    aggregate,
    initialize,
    metrics_from_sums,
    run_round,
    run_round_reference,
    server_update,
    train,
)

__all__ = [
    "ITEM_EMBEDDING",
    "ITEM_BIAS",
    "GLOBAL_BIAS",
    "USER_EMBEDDING",
    "USER_BIAS",
    "PrivacyError",
    "check_global_names",
    "MFSpec",
    "ClientRatings",
    "client_datasets",
    "FedReconConfig",
    "EvalConfig",
    "RoundPlan",
    "epoch_passes",
    "make_round_plan",
    "make_eval_plan",
    "predict_rows",
    "predict",
    "mf_loss_and_grads",
    "mf_loss_autograd",
    "reconstruct_reference",
    "client_update_reference",
    "ClientUpdate",
    "ClientUpdates",
    "global_arrays",
    "clients_update",
    "updates_from_lockstep",
    "metrics_from_sums",
    "aggregate",
    "ServerState",
    "initialize",
    "server_update",
    "run_round_reference",
    "run_round",
    "train",
    "reconstruct",
    "score",
    "evaluate",
    "evaluate_reference",
    "lockstep",
]
