"""Losses. Each is a layer with no parameters: ``loss = criterion(y_hat, y)``."""

from .tensor import Tensor

__all__ = ["MSELoss", "BCELoss", "BCEWithLogitsLoss"]

_REDUCTIONS = ("mean", "sum")


class _Loss:
    def __init__(self, reduction="mean"):
        if reduction not in _REDUCTIONS + ("none",):
            raise ValueError(
                f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', "
                f"got {reduction!r}"
            )
        self.reduction = reduction

    def __call__(self, y_hat, y):
        return self.forward(y_hat, y)

    def get_parameters(self):
        return []


class MSELoss(_Loss):
    """Squared error, averaged (``reduction='mean'``) or summed.

    The book's ``MSELoss`` sums over the batch: that is ``reduction='sum'``.
    """

    def forward(self, y_hat, y):
        if not isinstance(y, Tensor):
            y = Tensor(y, dtype=y_hat.dtype)
        if y.shape != y_hat.shape:
            raise ValueError(
                f"MSELoss: target shape {y.shape} differs from prediction shape "
                f"{y_hat.shape}; broadcasting would pair every prediction with every target"
            )
        diff = y_hat - y
        sq = diff * diff
        if self.reduction == "none":
            return sq
        return sq.mean() if self.reduction == "mean" else sq.sum()


class BCELoss(_Loss):
    """Binary cross-entropy computed *from logits* (stable for any logit).

    Pass the raw scores, not sigmoid outputs: ``BCELoss()(logits, y)`` equals
    ``-[y log σ(z) + (1-y) log(1-σ(z))]`` without overflow or log(0).
    """

    def forward(self, logits, y):
        return logits.bce_with_logits(y, reduction=self.reduction)


BCEWithLogitsLoss = BCELoss
