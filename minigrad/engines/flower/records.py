"""What crosses Flower's wire: minigrad's {name: ndarray} mappings and aggregator messages.

An ``ArrayRecord`` holds each array with its dtype and shape, so a float32 model arrives
bit for bit. Replies are packed per aggregator: FedAvg sends its trained parameters and
example count; DP-FedAvg its clipped delta. The server unpacks and checks every reply
before the aggregator sees it.
"""

import math
import numbers

import numpy as np

from ...federated.fedavg import FedAvg
from ...federated.params import check_update
from ...privacy.dp import Clipped, DPFedAvg
from .. import require

__all__ = ["to_arrays", "from_arrays", "pack_reply", "unpack_reply", "SUPPORTED"]

SUPPORTED = (FedAvg, DPFedAvg)


def _app():
    return require("flwr.app", "minigrad.engines.flower")


def to_arrays(params):
    """{name: ndarray} -> a flwr ``ArrayRecord`` (every dtype and shape kept)."""
    app = _app()
    return app.ArrayRecord({name: app.Array(np.asarray(value, order="C"))  # 0-d stays 0-d
                            for name, value in params.items()})


def from_arrays(record, who):
    """A flwr ``ArrayRecord`` -> {name: ndarray}; ``who`` names the sender in errors."""
    app = _app()
    if not isinstance(record, app.ArrayRecord):
        raise TypeError(f"{who}: expected an ArrayRecord of parameters, got "
                        f"{type(record).__name__}")
    return {name: record[name].numpy() for name in record}


def _count(value, who, field):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{who}: '{field}' is {value!r}; expected a finite number >= 0")
    return value


def pack_reply(aggregator, message, num_examples):
    """A client's ``aggregator.encode`` output -> a flwr ``RecordDict`` to reply with."""
    app = _app()
    metrics = {"num-examples": int(num_examples)}
    if isinstance(aggregator, FedAvg):
        params = message[0]
    elif isinstance(aggregator, DPFedAvg):
        params = message.delta
        # the course's clip diagnostics; not covered by the DP guarantee (see dp.Clipped)
        metrics["norm-before"] = float(message.norm_before)
    else:
        raise TypeError(f"minigrad.engines.flower: {aggregator!r} has no Flower message format; "
                        f"supported: {', '.join(c.__name__ for c in SUPPORTED)}")
    return app.RecordDict({"params": to_arrays(params), "metrics": app.MetricRecord(metrics)})


def unpack_reply(aggregator, content, who, template=None):
    """A reply's ``RecordDict`` -> (the aggregator's message, num_examples), or an error.

    Checks the records are there with the right types and, given ``template`` (the
    server's parameters), the arrays' names, shapes, dtypes and finiteness, so one bad
    reply is refused alone; the aggregator checks them again.
    """
    app = _app()
    if not isinstance(content, app.RecordDict):
        raise TypeError(f"{who}: the reply's content is a {type(content).__name__}, "
                        f"expected a RecordDict")
    for key, kind in [("params", app.ArrayRecord), ("metrics", app.MetricRecord)]:
        if key not in content or not isinstance(content[key], kind):
            raise ValueError(f"{who}: the reply has no {kind.__name__} '{key}' "
                             f"(it holds {sorted(content)})")
    params = from_arrays(content["params"], who)
    if template is not None:
        check_update(template, params, who)
    metrics = content["metrics"]
    if "num-examples" not in metrics:
        raise ValueError(f"{who}: the reply's metrics have no 'num-examples'")
    n = _count(metrics["num-examples"], who, "num-examples")
    if isinstance(aggregator, FedAvg):
        return (params, n), n
    if isinstance(aggregator, DPFedAvg):
        norm = _count(metrics.get("norm-before", math.nan), who, "norm-before")
        return Clipped(params, float(norm)), n
    raise TypeError(f"minigrad.engines.flower: {aggregator!r} has no Flower message format")
