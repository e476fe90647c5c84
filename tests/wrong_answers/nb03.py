"""Notebook 03 (Federated Reconstruction): one plausible wrong answer per exercise, and right
answers written differently from the reference."""

WRONG = {
    # the gradient of the batch's summed squared error, not its mean: too large a step
    "try_reconstruct_user": '''import numpy as np


def my_reconstruct(V, items, ratings, batches, u_init, lr):
    """SGD on one user's embedding, item embeddings frozen: -> u (d,)."""
    u = np.array(u_init, dtype=np.float64, copy=True)
    for b in batches:
        rows = V[items[b]]
        g = 2.0 * (rows @ u - ratings[b])
        u -= lr * (g @ rows)
    return u
''',
    # the delta the wrong way round (final - initial)
    "try_client_update": '''import numpy as np


def my_client_update(V, items, ratings, recon_batches, post_batches, u_init, recon_lr,
                     client_lr):
    """One FedRecon client without biases: reconstruct u, train V, send the delta."""
    u = my_reconstruct(V, items, ratings, recon_batches, u_init, recon_lr)
    V_c = np.array(V, dtype=np.float64, copy=True)
    for b in post_batches:
        g = (2.0 / len(b)) * (V_c[items[b]] @ u - ratings[b])
        np.add.at(V_c, items[b], -client_lr * g[:, None] * u[None, :])
    return V_c - V
''',
    # divides by |b| instead of |b|^2
    "exact_user_embedding": '''def exact_user_embedding(delta):
    """The user embedding behind one client's delta when the model has item biases."""
    import numpy as np

    rows = np.asarray(delta["item_embedding"], dtype=np.float64)
    b = np.asarray(delta["item_bias"], dtype=np.float64)
    return b @ rows / np.linalg.norm(b)
''',
    # sums the changed rows: the multiples of u may cancel out
    "user_embedding_from_update": '''def user_embedding_from_update(delta):
    """What one client's delta says about its user embedding: -> (u, exact)."""
    import numpy as np

    rows = np.asarray(delta["item_embedding"], dtype=np.float64)
    if not np.any(rows):
        raise ValueError("no item row changed")
    if "item_bias" in delta:
        return exact_user_embedding(delta), True
    s = rows.sum(axis=0)
    direction = s / np.linalg.norm(s)
    return direction * np.sign(direction[np.argmax(np.abs(direction))]), False
''',
    # penalizes u but forgets the user bias
    "reconstruct_ridge": '''def reconstruct_ridge(spec, global_params, items, ratings, l2):
    """One user's local parameters by ridge regression, global ones frozen."""
    import numpy as np

    X = np.asarray(global_params["item_embedding"], dtype=np.float64)[items]
    target = np.asarray(ratings, dtype=np.float64).copy()
    if spec.item_bias:
        target -= global_params["item_bias"][items]
    if spec.global_bias:
        target -= global_params["global_bias"]
    penalty = l2 * np.eye(spec.dim)
    if spec.user_bias:
        X = np.hstack([X, np.ones((len(items), 1))])
        penalty = np.pad(penalty, ((0, 1), (0, 1)))
    w = np.linalg.solve(X.T @ X + penalty, X.T @ target)
    out = {"user_embedding": w[: spec.dim]}
    if spec.user_bias:
        out["user_bias"] = np.array(w[spec.dim])
    return out
''',
    # keeps whole steps of the plan: up to a batch more than m ratings
    "keep_first_recon_ratings": '''def keep_first_recon_ratings(plan, m, batch_size, epochs=1):
    """A copy of an evaluation plan whose users reconstruct on their first m ratings only."""
    import numpy as np

    from minigrad.federated import reconstruction as fr

    steps = -(-int(m) // plan.recon.shape[2])
    recon = np.concatenate([plan.recon[:, :steps]] * int(epochs), axis=1)
    return fr.RoundPlan(plan.clients, recon, plan.post, plan.user_init)
''',
}

OTHER_RIGHT = {
    # one rating at a time inside each batch, summing the gradient before the step
    "try_reconstruct_user": '''import numpy as np


def my_reconstruct(V, items, ratings, batches, u_init, lr):
    """SGD on one user's embedding, item embeddings frozen: -> u (d,)."""
    u = np.asarray(u_init, dtype=float) + 0.0
    for b in batches:
        grad = np.zeros_like(u)
        for j in b:
            v = V[items[j]]
            grad += 2.0 * (v @ u - ratings[j]) * v / len(b)
        u = u - lr * grad
    return u
''',
    # scatter-add by a loop, the copy made with .copy()
    "try_client_update": '''import numpy as np


def my_client_update(V, items, ratings, recon_batches, post_batches, u_init, recon_lr,
                     client_lr):
    """One FedRecon client without biases: reconstruct u, train V, send the delta."""
    u = my_reconstruct(V, items, ratings, recon_batches, u_init, recon_lr)
    mine = V.astype(float).copy()
    for b in post_batches:
        errors = mine[items[b]] @ u - ratings[b]
        for i, e in zip(items[b], errors):
            mine[i] -= client_lr * 2.0 * e / len(b) * u
    return V - mine
''',
    # np.linalg.lstsq on the one-column system delta_b u^T = delta_v
    "exact_user_embedding": '''def exact_user_embedding(delta):
    """The user embedding behind one client's delta when the model has item biases."""
    import numpy as np

    b = np.asarray(delta["item_bias"], dtype=float)
    u, *_ = np.linalg.lstsq(b[:, None], np.asarray(delta["item_embedding"], dtype=float),
                            rcond=None)
    return u[0]
''',
    # the top eigenvector of rows^T rows, and an error message of its own
    "user_embedding_from_update": '''def user_embedding_from_update(delta):
    """What one client's delta says about its user embedding: -> (u, exact)."""
    import numpy as np

    rows = np.asarray(delta["item_embedding"], dtype=float)
    if np.abs(rows).max(initial=0.0) == 0:
        raise ValueError("empty update")
    if "item_bias" in delta:
        return exact_user_embedding(delta), True
    _, vecs = np.linalg.eigh(rows.T @ rows)
    top = vecs[:, -1] / np.linalg.norm(vecs[:, -1])
    if top[np.argmax(np.abs(top))] < 0:
        top = -top
    return top, False
''',
    # ridge as ordinary least squares on rows stacked with sqrt(lambda) I
    "reconstruct_ridge": '''def reconstruct_ridge(spec, global_params, items, ratings, l2):
    """One user's local parameters by ridge regression, global ones frozen."""
    import numpy as np

    offset = np.zeros(len(items))
    if spec.item_bias:
        offset = offset + global_params["item_bias"][items]
    if spec.global_bias:
        offset = offset + global_params["global_bias"]
    X = global_params["item_embedding"][items]
    if spec.user_bias:
        X = np.column_stack([X, np.ones(len(items))])
    k = X.shape[1]
    A = np.vstack([X, np.sqrt(l2) * np.eye(k)])
    y = np.concatenate([np.asarray(ratings, dtype=float) - offset, np.zeros(k)])
    w = np.linalg.lstsq(A, y, rcond=None)[0]
    local = {"user_embedding": w[: spec.dim]}
    if spec.user_bias:
        local["user_bias"] = np.array(w[-1])
    return local
''',
    # padded with np.pad per user, then stacked
    "keep_first_recon_ratings": '''def keep_first_recon_ratings(plan, m, batch_size, epochs=1):
    """A copy of an evaluation plan whose users reconstruct on their first m ratings only."""
    import numpy as np

    from minigrad.federated import reconstruction as fr

    users = []
    for k in range(len(plan.clients)):
        order = plan.recon[k][plan.recon[k] >= 0][:m]
        steps = -(-len(order) // batch_size)
        padded = np.pad(order, (0, steps * batch_size - len(order)), constant_values=-1)
        users.append(np.tile(padded.reshape(steps, batch_size), (epochs, 1)))
    longest = max((len(u) for u in users), default=0)
    recon = np.stack([np.pad(u, ((0, longest - len(u)), (0, 0)), constant_values=-1)
                      for u in users]).astype(np.int64)
    return fr.RoundPlan(plan.clients, recon, plan.post, dict(plan.user_init))
''',
}
