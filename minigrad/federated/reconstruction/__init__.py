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

from . import client, data, evaluation, lockstep, mf, plan, server
from .client import *  # noqa: F403  (the names in client.__all__)
from .data import *  # noqa: F403  (the names in data.__all__)
from .evaluation import *  # noqa: F403  (the names in evaluation.__all__)
from .mf import *  # noqa: F403  (the names in mf.__all__)
from .plan import *  # noqa: F403  (the names in plan.__all__)
from .server import *  # noqa: F403  (the names in server.__all__)

__all__ = [*mf.__all__, *data.__all__, *plan.__all__, *client.__all__, *server.__all__,
           *evaluation.__all__, "lockstep"]
