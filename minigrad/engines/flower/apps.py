"""A Flower ClientApp and ServerApp built from ``run_round``'s pieces.

The node: ``client_message(update_fn, received, client, data, aggregator, rng)``, the
very function ``run_round`` calls for each client, on the node's own partition. The
server: the round's sampler, then ``server_step`` on the replies **in client order**
(never arrival order: a float sum in another order differs in the last bits), then
``round_record``. Same seeds, same bits as ``run_round``.

Before the first round the server asks every node for its ``partition-id`` (a query
message), so it can address client ``c`` whatever node id the engine gave it.
"""

import time

import numpy as np

from ...federated.fedavg import FedAvg
from ...federated.round import (
    History,
    ServerSGD,
    client_message,
    round_record,
    round_sampler,
    server_step,
)
from ...rng import check_generator
from .. import require
from .partitions import read_partition
from .records import SUPPORTED, from_arrays, pack_reply, to_arrays, unpack_reply

__all__ = ["client_app", "server_app", "run_rounds", "wait_for_nodes", "query_nodes",
           "exchange", "failed",
           "ClientReplyError", "PARTITION_ID", "DATA_DIR"]

PARTITION_ID = "partition-id"
DATA_DIR = "data-dir"


class ClientReplyError(RuntimeError):
    """A node's reply was missing, an error, or refused by the server's checks."""


def _flwr():
    require("flwr", "minigrad.engines.flower")
    import flwr.app as app
    import flwr.clientapp as clientapp
    import flwr.serverapp as serverapp

    return app, clientapp, serverapp


def _partition_id(context):
    value = context.node_config.get(PARTITION_ID)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"node {context.node_id}: node config '{PARTITION_ID}' is {value!r}; "
                         f"start the SuperNode with --node-config \"{PARTITION_ID}=<int>\"")
    return int(value)


def client_app(make_update, aggregator=None, data_dir=None, *, load=None, mods=None):
    """A ClientApp that trains with ``make_update()``'s update function on its partition.

    make_update: () -> update_fn, called once per node process (build the model there);
    aggregator: as in ``run_round`` (default ``FedAvg()``; FedAvg and DPFedAvg travel);
    data_dir: where ``write_partitions`` put the partitions (default: the node config's
    'data-dir'); load: ``(data_dir, partition_id) -> data`` instead of ``read_partition``;
    mods: Flower client mods (functions wrapping each message's handling).
    """
    app, clientapp, _ = _flwr()
    aggregator = FedAvg() if aggregator is None else aggregator
    if not isinstance(aggregator, SUPPORTED):
        raise TypeError(f"client_app: {aggregator!r} has no Flower message format; supported: "
                        f"{', '.join(c.__name__ for c in SUPPORTED)}")
    load = read_partition if load is None else load
    cache = {}  # per node process: the update function and the partition, made once

    def node(context):
        pid = _partition_id(context)
        if pid not in cache:
            directory = data_dir if data_dir is not None else context.node_config.get(DATA_DIR)
            if directory is None:
                raise ValueError(f"node {context.node_id}: no data directory; pass data_dir "
                                 f"or set node config '{DATA_DIR}'")
            cache[pid] = (make_update(), load(directory, pid))
        return pid, cache[pid]

    capp = clientapp.ClientApp(mods=mods)

    @capp.query()
    def query(msg, context):
        pid, (_, data) = node(context)
        return app.Message(app.RecordDict({"node": app.ConfigRecord({PARTITION_ID: pid})}),
                           reply_to=msg)

    @capp.train()
    def train(msg, context):
        pid, (update_fn, data) = node(context)
        config = msg.content["config"]
        if int(config["client"]) != pid:
            raise ValueError(f"node {context.node_id}: the server addressed client "
                             f"{config['client']}, but this node holds partition {pid}")
        received = from_arrays(msg.content["params"], f"client {pid}: the broadcast")
        message, n, _ = client_message(update_fn, received, pid, data, aggregator, None)
        return app.Message(pack_reply(aggregator, message, n), reply_to=msg)

    return capp


def wait_for_nodes(grid, num_nodes, timeout=60.0):
    """The ids of the ``num_nodes`` nodes connected to ``grid``, sorted; bounded wait."""
    deadline = time.monotonic() + timeout
    while True:
        ids = sorted(grid.get_node_ids())
        if len(ids) >= num_nodes:
            return ids
        if time.monotonic() > deadline:
            raise TimeoutError(f"server: {len(ids)} of {num_nodes} nodes connected after "
                               f"{timeout:g} s")
        time.sleep(0.05)


def query_nodes(grid, num_clients, timeout=60.0):
    """Wait for ``num_clients`` nodes and ask each what it holds.

    -> {client index: (node id, the node's reply {PARTITION_ID: ..., ...})}; every index
    0..num_clients-1 exactly once, or an error naming the node.
    """
    app, _, _ = _flwr()
    node_ids = wait_for_nodes(grid, num_clients, timeout)
    queries = [app.Message(app.RecordDict({}), dst_node_id=n, message_type="query")
               for n in node_ids]
    nodes = {}
    for reply in grid.send_and_receive(queries, timeout=timeout):
        node = reply.metadata.src_node_id
        if reply.has_error():
            raise ClientReplyError(f"server: node {node} did not answer the query: "
                                   f"{reply.error.reason}")
        info = dict(reply.content["node"])
        pid = info.get(PARTITION_ID)
        if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid < num_clients:
            raise ValueError(f"server: node {node} says it holds partition {pid!r}; expected "
                             f"one of 0..{num_clients - 1}")
        if pid in nodes:
            raise ValueError(f"server: nodes {nodes[pid][0]} and {node} both hold partition "
                             f"{pid}")
        nodes[pid] = (node, info)
    missing = sorted(set(range(num_clients)) - set(nodes))
    if missing:
        raise ValueError(f"server: no node holds partitions {missing} (of {num_clients})")
    return nodes


def exchange(grid, requests, timeout):
    """Send {client: Message}, wait -> ({client: reply}, seconds); a reply is filed under
    the client its node was asked as, whatever order the replies arrive in."""
    client_of = {m.metadata.dst_node_id: c for c, m in requests.items()}
    start = time.perf_counter()
    replies = {}
    for reply in grid.send_and_receive(list(requests.values()), timeout=timeout):
        c = client_of.get(reply.metadata.src_node_id)
        if c is not None:
            replies[c] = reply
    return replies, time.perf_counter() - start


def failed(reply, timeout):
    """Why a reply cannot be used (missing, or an error reply), else None."""
    if reply is None:
        return f"no reply within {timeout:g} s"
    return reply.error.reason if reply.has_error() else None


def server_app(initial_params, num_rounds, *, num_clients, **round_kw):
    """A ServerApp whose main is ``run_rounds``; afterwards ``app.result`` holds
    "params", "history" and "nodes" (client index -> node id)."""
    _, _, serverapp = _flwr()
    sapp = serverapp.ServerApp()
    sapp.result = {}
    check = dict(round_kw)
    round_sampler(check.get("aggregator") or FedAvg(), check.get("sampler"))  # fail early

    @sapp.main()
    def main(grid, context):
        run_rounds(grid, initial_params, num_rounds, num_clients=num_clients,
                   result=sapp.result, **round_kw)

    return sapp


def run_rounds(grid, initial_params, num_rounds, *, num_clients, aggregator=None,
               server_update=None, sampler=None, rng=None, evaluate=None, timeout=120.0,
               connect_timeout=60.0, result=None):
    """``num_rounds`` rounds as ``run_round`` would run them, over a Flower ``grid``.

    Arguments as in ``run_round``; num_clients: how many nodes (partitions) to wait for;
    evaluate(params) -> a number, recorded per round as ``evaluation``; timeout: seconds
    to wait for a round's replies. A node that does not reply (or replies with an error)
    is left out of that round and named in the record's ``dropped``; a reply that fails
    the server's checks is refused the same way. When every sampled client dropped, the
    round changes nothing (``aborted``). -> (params, History); ``result`` (a dict), if
    given, is kept up to date after every round.
    """
    app, _, _ = _flwr()
    aggregator = FedAvg() if aggregator is None else aggregator
    server_update = ServerSGD() if server_update is None else server_update
    sampler = round_sampler(aggregator, sampler)
    if rng is not None:
        check_generator(rng, "run_rounds", "rounds are reproducible")
    result = {} if result is None else result
    params = {k: np.array(v, copy=True) for k, v in initial_params.items()}
    owners = {c: node for c, (node, _) in
              query_nodes(grid, num_clients, connect_timeout).items()}
    history = History()
    result.update(params=params, history=history, nodes=owners)
    for r in range(1, num_rounds + 1):
        chosen = np.asarray(sampler(num_clients, rng), dtype=np.int64)
        down = to_arrays(params)
        requests = {int(c): app.Message(app.RecordDict({
            "params": down, "config": app.ConfigRecord({"round": r, "client": int(c)})}),
            dst_node_id=owners[int(c)], message_type="train") for c in chosen}
        replies, wall = exchange(grid, requests, timeout)
        messages, counts, kept, dropped = [], [], [], {}
        for c in (int(c) for c in chosen):  # client order, whatever order replies came in
            reply = replies.get(c)
            if failed(reply, timeout):
                dropped[c] = failed(reply, timeout)
                continue
            try:
                message, n = unpack_reply(aggregator, reply.content, f"client {c}", params)
            except (TypeError, ValueError) as error:
                dropped[c] = str(error)
                continue
            messages.append(message)
            counts.append(n)
            kept.append(c)
        if dropped and not messages:
            record = {"round": r, "clients": [], "dropped": dropped, "aborted": True}
        else:
            try:
                new, info, agg_s = server_step(params, messages, aggregator, server_update,
                                               rng)
            except (TypeError, ValueError) as error:
                raise ClientReplyError(f"server, round {r}: the replies of clients {kept} "
                                       f"were refused: {error}") from error
            record = round_record(params, kept, counts, messages, aggregator, info,
                                  {"round_trip": wall, "aggregate": agg_s}, r)
            record["dropped"] = dropped
            params = new
        if evaluate is not None:
            record["evaluation"] = evaluate(params)
        history.append(record)
        result["params"] = params
    return params, history
