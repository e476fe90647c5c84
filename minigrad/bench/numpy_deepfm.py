"""Split DeepFM's training step in plain NumPy, no graph: the deepfm workload's lower bound."""

import numpy as np

from .. import kernels


def _relu_forward(layers, h):
    """``h`` through Linear+ReLU ``layers``: (output, each layer's input, each ReLU's mask)."""
    acts, masks = [], []
    for layer in layers:
        acts.append(h)
        h = h @ layer.weight.data
        h += layer.bias.data
        mask = h > 0
        h *= mask
        masks.append(mask)
    return h, acts, masks


def _relu_backward(layers, acts, masks, g, grads):
    """Back through ``_relu_forward``'s layers: their gradients into ``grads``; the input's."""
    for layer, a, mask in zip(reversed(layers), reversed(acts), reversed(masks), strict=True):
        g = g * mask
        grads[layer.weight] = a.T @ g
        grads[layer.bias] = g.sum(axis=0)
        g = g @ layer.weight.data.T
    return g


class NumpyDeepFM:
    """The same split-DeepFM step written out in plain NumPy, with no graph: the lower bound.

    Shares the parties' parameter arrays and optimizers; ``step(rows)`` computes every
    gradient by hand (the derivatives the autograd graph would apply), sets ``.grad``
    and steps both optimizers, so the time left between it and ``split.train_step`` is
    the autograd layer's own: graph records, per-op dispatch, extra temporaries.
    ``gradients(rows)`` returns {Tensor: ndarray} without stepping. Only the default
    model (no ``fm_stop_gradient``, any aggregation).
    """

    def __init__(self, alice, bob):
        if alice.model.fm_stop_gradient or bob.model.fm_stop_gradient:
            raise ValueError("NumpyDeepFM covers the default model (fm_stop_gradient=False)")
        self.alice, self.bob = alice, bob

    @staticmethod
    def _base_forward(base, X):
        emb, first = base.embedding, base.first_order.weights
        rows = emb.rows(X)
        if emb._multi:       # bags: gather slot-major, then whole-row adds (as the op does)
            slot_rows = emb.weight.data.take(rows.T, axis=0)        # (S, B, K)
            sizes = np.diff(np.append(emb._bags, rows.shape[1]))
            v = np.stack([slot_rows[a:a + n].sum(axis=0)
                          for a, n in zip(emb._bags, sizes, strict=True)], axis=1)
        else:
            v = emb.weight.data.take(rows, axis=0)                  # (B, F, K)
        v += emb.bias.data
        batch, fields, dim = v.shape
        h = v.reshape(batch, fields * dim)
        h, acts, masks = _relu_forward(base.dnn.layers, h)
        fm_sum = v[:, 0].copy()
        for f in range(1, fields):
            fm_sum += v[:, f]
        flat = v.reshape(batch, fields * dim)
        square_sum = (flat * flat).sum(axis=1, keepdims=True)
        first_order = first.weight.data[:, 0].take(rows).sum(axis=1, keepdims=True)
        fm_linear = (first_order + base.first_order.bias.data) - 0.5 * square_sum
        return (h, fm_sum, fm_linear), (rows, v, acts, masks)

    @staticmethod
    def _base_backward(base, cache, g_deep, g_sum, g_linear, grads):
        rows, v, acts, masks = cache
        emb, first = base.embedding, base.first_order
        g = _relu_backward(base.dnn.layers, acts, masks, g_deep, grads)
        g_v = g.reshape(v.shape) + g_sum[:, None, :] - g_linear[:, :, None] * v
        grads[emb.bias] = g_v.sum(axis=0)
        if emb._multi:
            g_v = np.repeat(g_v, np.diff(np.append(emb._bags, rows.shape[1])), axis=1)
        g_w1 = np.broadcast_to(g_linear[:, :, None], rows.shape + (1,))  # every slot's weight
        for table, g_rows in ((emb.weight, g_v), (first.weights.weight, g_w1)):
            g_table = kernels.scatter_add_rows(rows, g_rows, table.data.shape[0])
            g_table[emb.padding_idx] = 0
            grads[table] = g_table
        grads[first.bias] = g_linear.sum(axis=0)

    def gradients(self, rows):
        """(loss, {parameter Tensor: gradient}) of one batch, by hand."""
        alice, bob = self.alice, self.bob
        grads = {}
        (deep_a, sum_a, lin_a), cache_a = self._base_forward(alice.model, alice.X[rows])
        (deep_b, sum_b, lin_b), cache_b = self._base_forward(bob.model, bob.X[rows])
        concat_mode = bob.aggregation.mode == "concat"
        h = np.concatenate([deep_a, deep_b], axis=1) if concat_mode else deep_a + deep_b
        fm_sum, fm_linear = sum_a + sum_b, lin_a + lin_b
        dnn = bob.fuse.dnn
        h, acts, masks = _relu_forward(dnn.layers, h)
        logits = h @ dnn.output.weight.data
        logits += dnn.output.bias.data
        logits = logits + ((fm_sum * fm_sum).sum(1, keepdims=True) * 0.5 + fm_linear)
        y = bob.y[rows]
        loss = float((kernels.softplus(logits) - logits * y).mean())
        g = (kernels.sigmoid(logits) - y) * (1.0 / logits.size)
        grads[dnn.output.weight] = h.T @ g
        grads[dnn.output.bias] = g.sum(axis=0)
        g_h = _relu_backward(dnn.layers, acts, masks, g @ dnn.output.weight.data.T, grads)
        g_sum = g * fm_sum
        if concat_mode:
            g_deep_a, g_deep_b = g_h[:, :deep_a.shape[1]], g_h[:, deep_a.shape[1]:]
        else:
            g_deep_a = g_deep_b = g_h
        self._base_backward(alice.model, cache_a, g_deep_a, g_sum, g, grads)
        self._base_backward(bob.model, cache_b, g_deep_b, g_sum, g, grads)
        return loss, grads

    def step(self, rows):
        """One training step on ``rows``: hand-written gradients, then both optimizers."""
        loss, grads = self.gradients(rows)
        for p, g in grads.items():
            p.grad = g
        self.alice.optimizer.step()
        self.bob.optimizer.step()
        return loss
