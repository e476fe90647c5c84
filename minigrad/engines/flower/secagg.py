"""minigrad's secure aggregation (Bonawitz et al.) as rounds of Flower messages.

    client_app = make_client_app()                   # one per federation
    result = secure_sum_over_grid(grid, session="r1", num_clients=5, t=3, dim=8, seed=0)

Each protocol round (advertise_keys, share_keys, masked_input, unmasking) is one
``grid.send_and_receive`` of the protocol's own ``Message``s, encoded losslessly into a
ConfigRecord (``encode_message`` / ``decode_message``). A node keeps no live object
between messages: its ``Client`` is re-derived from its seed and the server messages it
has seen, which live in ``context.state`` (persisted per node by both engines).
Node seeds: ``default_rng(seed).integers(0, 2**63, num_clients)[partition_id]``, the
same derivation as ``secure_aggregation.run``, so a Flower run equals ``run`` bitwise.
"""

import time

import numpy as np

from ...privacy.secure_aggregation.primitives import ThresholdError
from ...privacy.secure_aggregation.protocol import (
    ROUNDS,
    SERVER,
    Client,
    Message,
    Quantizer,
    Server,
    Transcript,
)
from .. import require

__all__ = ["encode_message", "decode_message", "partition_vector", "node_seed",
           "make_client_app", "secure_sum_over_grid", "MESSAGE_TYPE", "ThresholdError"]

MESSAGE_TYPE = "query.secagg"
_SERVER_ID = -1  # ConfigRecords hold ints; the server is not a client index
_DTYPES = {"<u4", "<i4"}  # the protocol's arrays: masked inputs (uint32), id lists (int32)


def _party(value):
    return _SERVER_ID if value == SERVER else int(value)


def encode_message(message):
    """Protocol ``Message`` -> flat {key: int | str | bytes} for a ConfigRecord (lossless).

    bytes field f -> "bytes.f"; array -> "array.f" (raw), ".dtype", ".shape" (bytes of
    int64); {client id: bytes} -> "map.f.ids" (big-endian uint32), "map.f.values"
    (concatenated), "map.f.size" (each value's length; all equal in this protocol).
    """
    out = {"round": message.round, "sender": _party(message.sender),
           "receiver": _party(message.receiver)}
    for name, value in message.payload.items():
        if isinstance(value, bytes):
            out[f"bytes.{name}"] = value
        elif isinstance(value, np.ndarray):
            if value.dtype.str not in _DTYPES:
                raise ValueError(f"encode_message: field {name!r} has dtype {value.dtype}; "
                                 f"expected one of {sorted(_DTYPES)}")
            out[f"array.{name}"] = value.tobytes()
            out[f"array.{name}.dtype"] = value.dtype.str
            out[f"array.{name}.shape"] = np.array(value.shape, dtype=">i8").tobytes()
        else:
            ids = sorted(value)
            sizes = {len(value[k]) for k in ids}
            if len(sizes) > 1 or not all(isinstance(value[k], bytes) for k in ids):
                raise ValueError(f"encode_message: field {name!r} must map client ids to "
                                 f"bytes of one length, got lengths {sorted(sizes)}")
            out[f"map.{name}.ids"] = np.array(ids, dtype=">u4").tobytes()
            out[f"map.{name}.values"] = b"".join(value[k] for k in ids)
            out[f"map.{name}.size"] = sizes.pop() if sizes else 0
    return out


def _get(record, key, kind, who):
    value = record.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{who}: field {key!r} must be {kind.__name__}, got "
                         f"{type(value).__name__}")
    return value


def decode_message(record, who="decode_message"):
    """ConfigRecord (or dict) from ``encode_message`` -> protocol ``Message``.

    Checks only the encoding (types, lengths, known keys); the protocol's Client and
    Server check the contents (round, ids, sizes) when they receive it.
    """
    record = dict(record)
    round_name = _get(record, "round", str, who)
    if round_name not in ROUNDS:
        raise ValueError(f"{who}: round {round_name!r} is not one of {ROUNDS}")
    parties = []
    for key in ("sender", "receiver"):
        v = _get(record, key, int, who)
        if v < _SERVER_ID:
            raise ValueError(f"{who}: {key} {v} is neither a client index nor the server")
        parties.append(SERVER if v == _SERVER_ID else v)
    payload, used = {}, {"round", "sender", "receiver"}
    for key in record:
        kind, _, name = key.partition(".")
        if kind == "bytes":
            payload[name] = _get(record, key, bytes, who)
            used.add(key)
        elif kind == "array" and key.count(".") == 1:
            dtype = _get(record, f"{key}.dtype", str, who)
            if dtype not in _DTYPES:
                raise ValueError(f"{who}: {key} has dtype {dtype!r}; expected {sorted(_DTYPES)}")
            raw_shape = _get(record, f"{key}.shape", bytes, who)
            if len(raw_shape) % 8:
                raise ValueError(f"{who}: {key}.shape is not a whole number of int64s")
            shape = tuple(int(s) for s in np.frombuffer(raw_shape, dtype=">i8"))
            data = _get(record, key, bytes, who)
            if any(s < 0 for s in shape) or np.prod(shape, dtype=np.int64) * 4 != len(data):
                raise ValueError(f"{who}: {key} has {len(data)} bytes, not shape {shape}")
            payload[name] = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
            used |= {key, f"{key}.dtype", f"{key}.shape"}
        elif kind == "map" and key.endswith(".ids"):
            name = name[:-len(".ids")]
            ids = np.frombuffer(_get(record, key, bytes, who), dtype=">u4") \
                if len(record[key]) % 4 == 0 else None
            size = _get(record, f"map.{name}.size", int, who)
            values = _get(record, f"map.{name}.values", bytes, who)
            if ids is None or size < 0 or len(values) != size * ids.size \
                    or len(set(ids.tolist())) != ids.size:
                raise ValueError(f"{who}: map {name!r} has {len(values)} value bytes for "
                                 f"{len(record[key])} id bytes of size {size}; expected 4 "
                                 f"bytes per distinct id and {size} per value")
            payload[name] = {int(v): values[i * size:(i + 1) * size]
                             for i, v in enumerate(ids.tolist())}
            used |= {key, f"map.{name}.size", f"map.{name}.values"}
    unknown = set(record) - used
    if unknown:
        raise ValueError(f"{who}: unknown fields {sorted(unknown)}")
    return Message(round_name, parties[0], parties[1], payload)


def partition_vector(partition_id, dim):
    """The test input of node ``partition_id``: float64 (dim,) from default_rng(partition_id)."""
    return np.random.default_rng(int(partition_id)).uniform(-1.0, 1.0, int(dim))


def node_seed(seed, num_clients, partition_id):
    """Client ``partition_id``'s rng seed, exactly as ``secure_aggregation.run`` draws it
    from ``default_rng(seed)``."""
    return int(np.random.default_rng(seed).integers(0, 2 ** 63, size=num_clients)[partition_id])


_STEPS = ("advertise_keys", "share_keys", "masked_input", "unmask")


def _client_reply(content, context, vector_fn, faults):
    """One protocol step on a node: rebuild its Client from the seed and the history in
    ``context.state``, answer the server's message, and extend the history."""
    from flwr.app import ConfigRecord

    cfg = content["config"]
    session, step = str(cfg["session"]), int(cfg["step"])
    pid = int(context.node_config["partition-id"])
    who = f"secagg node {pid}, session {session!r}"
    if step in faults.get(session, {}).get(pid, ()):
        raise ConnectionError(f"{who}: injected failure in step {_STEPS[step]!r}")
    key = f"secagg:{session}"
    done = int(context.state[key]["next-step"]) if key in context.state else 0
    if step != done:
        raise ValueError(f"{who}: step {step} requested, expected step {done} (each step "
                         f"runs once, in order)")
    num_clients, dim, t = int(cfg["num-clients"]), int(cfg["dim"]), int(cfg["t"])
    client = Client(pid, vector_fn(pid, dim), Quantizer(float(cfg["clip"]), num_clients), t,
                    np.random.default_rng(node_seed(int(cfg["seed"]), num_clients, pid)),
                    insecure_demo=bool(cfg["insecure-demo"]))
    out = client.advertise_keys()
    for s in range(1, step + 1):
        if s < step:
            record = context.state[f"{key}:{s}"]
        else:
            record = content["message"]
        out = getattr(client, _STEPS[s])(decode_message(record, who))
    if step:
        context.state[f"{key}:{step}"] = ConfigRecord(dict(content["message"]))
    context.state[key] = ConfigRecord({"next-step": step + 1})
    return {"message": ConfigRecord(encode_message(out)),
            "node": ConfigRecord({"partition-id": pid})}


def make_client_app(vector_fn=partition_vector, faults=None):
    """A ClientApp answering ``MESSAGE_TYPE`` messages with the protocol's next step.

    vector_fn(partition_id, dim) -> float64 (dim,): the node's input. faults: {session:
    {partition_id: steps 0..3}}, a fault injection for tests: that node raises in that
    step, as a SuperNode that disconnects would (its reply carries an error).
    """
    require("flwr", "make_client_app")
    from flwr.app import Message as FlowerMessage
    from flwr.app import RecordDict
    from flwr.clientapp import ClientApp

    faults = dict(faults or {})
    app = ClientApp()

    @app.query("secagg")
    def secagg(msg, context):
        return FlowerMessage(RecordDict(_client_reply(msg.content, context, vector_fn,
                                                      faults)), reply_to=msg)

    return app


def _wait_for_nodes(grid, num_clients, wait_s):
    deadline = time.monotonic() + wait_s
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= num_clients or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if len(nodes) < num_clients:
        raise TimeoutError(f"secure_sum_over_grid: {len(nodes)} SuperNode(s) registered within "
                           f"{wait_s} s, expected {num_clients}")
    return nodes


def secure_sum_over_grid(grid, *, session, num_clients, t, dim, seed, clip=1.0,
                         timeout=60.0, wait_s=60.0, insecure_demo=False, keep_messages=False):
    """One secure aggregation over the SuperNodes of ``grid`` -> dict.

    Keys: sum (float64 (dim,)), sum_quantized (uint32 (dim,)), survivors, dropped
    ({round: client indices that sent no valid reply}), transcript (a protocol
    ``Transcript`` of the decoded messages, each kept if ``keep_messages``), seconds
    ({round: wall time}). A node
    whose reply is an error or missing is dropped for the rest of the session.
    ThresholdError (naming the round and the counts) when fewer than t remain; then
    nothing is returned and nothing else changes.
    """
    require("flwr", "secure_sum_over_grid")
    from flwr.app import ConfigRecord, RecordDict
    from flwr.app import Message as FlowerMessage

    config = {"session": str(session), "num-clients": int(num_clients), "t": int(t),
              "dim": int(dim), "seed": int(seed), "clip": float(clip),
              "insecure-demo": bool(insecure_demo)}
    nodes = _wait_for_nodes(grid, num_clients, wait_s)[:num_clients]
    server = Server(t, dim, insecure_demo=insecure_demo)
    transcript = Transcript(keep=keep_messages)
    dropped = {r: [] for r in ROUNDS}
    seconds = {}
    node_of = {}  # client index -> node id, learned from the advertise_keys replies

    def exchange(step, outbox):
        """Send {node id: protocol Message or None}; return the valid replies by sender."""
        start = time.perf_counter()
        msgs = []
        for node, message in outbox.items():
            content = {"config": ConfigRecord({**config, "step": step})}
            if message is not None:
                content["message"] = ConfigRecord(encode_message(message))
            msgs.append(FlowerMessage(RecordDict(content), dst_node_id=node,
                                      message_type=MESSAGE_TYPE))
        replies = {}
        for reply in grid.send_and_receive(msgs, timeout=timeout):
            if reply.has_error():
                continue
            node = reply.metadata.src_node_id
            message = decode_message(reply.content["message"], f"node {node}'s reply")
            pid = int(reply.content["node"]["partition-id"])
            if step == 0:
                if not 0 <= pid < num_clients or pid in node_of:
                    raise ValueError(f"secure_sum_over_grid: node {node} claims partition "
                                     f"{pid}; expected a distinct index in 0..{num_clients - 1}")
                node_of[pid] = node
            if node_of.get(message.sender) != node or message.sender != pid:
                raise ValueError(f"secure_sum_over_grid: node {node} sent a message as client "
                                 f"{message.sender}")
            replies[message.sender] = message
        sent = [u for u, node in node_of.items() if node in outbox] if step else []
        missing = sorted(set(sent) - set(replies))
        dropped[ROUNDS[step]] = missing
        seconds[ROUNDS[step]] = time.perf_counter() - start
        return transcript.record([replies[u] for u in sorted(replies)])  # client index order

    keys = transcript.record(server.collect_keys(exchange(0, {n: None for n in nodes})))
    shares = transcript.record(server.route_shares(
        exchange(1, {node_of[u]: m for u, m in sorted(keys.items())})))
    requests = transcript.record(server.collect_masked_inputs(
        exchange(2, {node_of[u]: m for u, m in sorted(shares.items())})))
    total = server.unmask(exchange(3, {node_of[u]: m for u, m in sorted(requests.items())}))
    dropped["advertise_keys"] = sorted(set(range(num_clients)) - set(node_of))
    quantizer = Quantizer(float(clip), int(num_clients))
    return {"sum": quantizer.dequantize_sum(total), "sum_quantized": total,
            "survivors": server.survivors, "dropped": dropped, "transcript": transcript,
            "seconds": seconds}

