"""Federated Reconstruction on Flower: each user's factors live only in its node's state.

The node runs ``reconstruction.client_update_reference`` (the per-client step of
``run_round_reference``): it reconstructs its user factors with the global ones
frozen, trains the global ones, sends the global delta and keeps its factors in
``context.state`` (Flower's per-node state), where ``recommend`` queries use them.
The server checks that every reply holds exactly the global names: a reply carrying a
user factor is refused, so the server can never receive one.

So that a run is comparable bit for bit with ``reconstruction.train(...,
reference=True)``, the server draws the round's plan with its ``rng`` (which client
rows go in which batch, the fresh user init) and sends each client its part; a
deployment would let each device draw its own.
"""


import numpy as np

from ...federated.reconstruction import client as frc
from ...federated.reconstruction import server as frs
from ...federated.reconstruction.plan import make_round_plan
from ...federated.round import History
from ...rng import check_generator
from .apps import PARTITION_ID, _flwr, _partition_id, exchange, failed, query_nodes
from .partitions import read_partition
from .records import from_arrays, to_arrays

__all__ = ["fedrecon_client_app", "fedrecon_rounds", "fedrecon_server_app", "USER_FACTORS"]

USER_FACTORS = "user-factors"  # the context.state key of a node's own user factors


def _batches(steps):
    """A (T, B) schedule (-1: none) -> the list of index arrays, as ``RoundPlan.batches``."""
    return [s[s >= 0] for s in steps if s[0] >= 0]


def fedrecon_client_app(spec, config, data_dir=None, *, load=None, mods=None):
    """A ClientApp for FedRecon: data (items, ratings) from its partition (see ``client_app``)."""
    app, clientapp, _ = _flwr()
    load = read_partition if load is None else load
    cache = {}

    def node(context):
        pid = _partition_id(context)
        if pid not in cache:
            directory = data_dir if data_dir is not None else context.node_config.get("data-dir")
            items, ratings = load(directory, pid)
            cache[pid] = (np.asarray(items, dtype=np.int64), np.asarray(ratings))
        return pid, cache[pid]

    capp = clientapp.ClientApp(mods=mods)

    @capp.query()
    def query(msg, context):
        pid, (items, _) = node(context)
        return app.Message(app.RecordDict({"node": app.ConfigRecord(
            {PARTITION_ID: pid, "num-examples": len(items)})}), reply_to=msg)

    @capp.query("recommend")
    def recommend(msg, context):
        from ...recipes.fedrecon import recommend as top_k

        pid, (items, _) = node(context)
        if USER_FACTORS not in context.state:
            raise ValueError(f"client {pid}: no user factors yet (not trained in any round)")
        local = from_arrays(context.state[USER_FACTORS], f"client {pid}'s state")
        params = from_arrays(msg.content["params"], f"client {pid}: the broadcast")
        best, _ = top_k(spec, params, local, k=int(msg.content["config"]["k"]), exclude=items)
        return app.Message(app.RecordDict({"top": app.ArrayRecord(
            {"items": app.Array(best.astype(np.int64))})}), reply_to=msg)

    @capp.train()
    def train(msg, context):
        pid, (items, ratings) = node(context)
        if int(msg.content["config"]["client"]) != pid:
            raise ValueError(f"node {context.node_id}: addressed as client "
                             f"{msg.content['config']['client']}, holds partition {pid}")
        params = from_arrays(msg.content["params"], f"client {pid}: the broadcast")
        plan = from_arrays(msg.content["plan"], f"client {pid}: the plan")
        user_init = {name: plan[name] for name in spec.local_names}
        update, local = frc.client_update_reference(
            spec, config, params, items, ratings, _batches(plan["recon"]),
            _batches(plan["post"]), user_init, return_local=True)
        context.state[USER_FACTORS] = to_arrays(local)  # stays on this node
        return app.Message(app.RecordDict({
            "params": to_arrays(dict(update.delta)),
            "metrics": app.MetricRecord({"num-examples": update.num_examples,
                                         "loss-sum": update.loss_sum,
                                         "num-correct": update.num_correct})}), reply_to=msg)

    return capp


class _Sizes:
    """What the round plan needs of the clients: how many, and each one's example count."""

    def __init__(self, num_examples):
        self.num_examples = np.asarray(num_examples, dtype=np.int64)

    def __len__(self):
        return len(self.num_examples)


def fedrecon_rounds(grid, spec, config, num_rounds, rng, *, num_clients, state=None,
                    timeout=120.0, connect_timeout=60.0, result=None):
    """``num_rounds`` FedRecon rounds over ``grid``, as ``reconstruction.train(...,
    reference=True)`` runs them. -> (ServerState, History); a node that fails, or a reply
    that is not exactly a global delta, is left out and named in ``dropped``."""
    app, _, _ = _flwr()
    check_generator(rng, "fedrecon_rounds")
    nodes = query_nodes(grid, num_clients, connect_timeout)
    owners = {c: node for c, (node, _) in nodes.items()}
    sizes = _Sizes([int(nodes[c][1]["num-examples"]) for c in range(num_clients)])
    state = frs.initialize(spec, config, rng) if state is None else state
    history = History()
    result = {} if result is None else result
    result.update(state=state, history=history, nodes=owners, reply_names=set())
    for _ in range(num_rounds):
        plan = make_round_plan(spec, config, sizes, rng)
        down = to_arrays(state.params)
        requests = {}
        for k, c in enumerate(int(c) for c in plan.clients):
            part = {"recon": plan.recon[k], "post": plan.post[k], **plan.client_init(k)}
            requests[c] = app.Message(app.RecordDict({
                "params": down, "plan": to_arrays(part),
                "config": app.ConfigRecord({"round": state.round_num + 1, "client": c})}),
                dst_node_id=owners[c], message_type="train")
        replies, wall = exchange(grid, requests, timeout)
        updates, dropped = [], {}
        for c in (int(c) for c in plan.clients):  # client order, not arrival order
            reply = replies.get(c)
            if failed(reply, timeout):
                dropped[c] = failed(reply, timeout)
                continue
            try:
                delta = from_arrays(reply.content["params"], f"client {c}")
                result["reply_names"].update(delta)
                m = reply.content["metrics"]
                update = frc.ClientUpdate.create(spec, delta, m["num-examples"],
                                                 m["loss-sum"], m["num-correct"])
                frs.check_client_update(spec, update, f"client {c}")
            except (KeyError, TypeError, ValueError) as error:
                dropped[c] = str(error)
                continue
            updates.append(update)
        if not updates:
            record = {"round": state.round_num + 1, "dropped": dropped, "aborted": True}
        else:
            mean_delta, metrics = frs.aggregate(spec, updates)
            state = frs.server_update(spec, config, state, mean_delta)
            record = {"round": state.round_num, **metrics, "dropped": dropped,
                      "round_trip_s": wall}
        history.append(record)
        result["state"] = state
    return state, history


def fedrecon_server_app(spec, config, num_rounds, rng, *, num_clients, recommend_k=None,
                        **kw):
    """A ServerApp whose main is ``fedrecon_rounds``; ``app.result`` holds "state",
    "history", "nodes", "reply_names" (every array name the server received) and, with
    ``recommend_k``, "recommended": each client's top items, computed on its node."""
    app, _, serverapp = _flwr()
    sapp = serverapp.ServerApp()
    sapp.result = {}

    @sapp.main()
    def main(grid, context):
        state, _ = fedrecon_rounds(grid, spec, config, num_rounds, rng,
                                   num_clients=num_clients, result=sapp.result, **kw)
        if recommend_k is None:
            return
        owners = sapp.result["nodes"]
        asks = [app.Message(app.RecordDict({
            "params": to_arrays(state.params),
            "config": app.ConfigRecord({"k": int(recommend_k)})}),
            dst_node_id=node, message_type="query.recommend") for node in owners.values()]
        by_node = {m.metadata.src_node_id: m for m in grid.send_and_receive(asks, timeout=60)}
        sapp.result["recommended"] = {
            c: (by_node[n].content["top"]["items"].numpy() if n in by_node
                and not by_node[n].has_error() else None) for c, n in owners.items()}

    return sapp
