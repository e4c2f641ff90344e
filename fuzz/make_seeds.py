#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/ (committed; rerun after an IDL change).

registry_request: one config byte, then framed strict-binary-protocol calls as
a client sends them on one connection (register, heartbeat, lookup, watch,
listServices, deregister, ping, an unknown method).
voting_rules: programs for voting_rules_fuzzer (see its FuzzInput reads).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
T_STOP, T_I32, T_I64, T_STRING, T_STRUCT, T_MAP = 0, 8, 10, 11, 12, 13


def s(v):
    b = v.encode() if isinstance(v, str) else v
    return struct.pack(">i", len(b)) + b


def field(ftype, fid, payload):
    return struct.pack(">bh", ftype, fid) + payload


def call(name, args, seqid=1):
    body = struct.pack(">I", 0x80010001) + s(name) + struct.pack(">i", seqid) + args + b"\x00"
    return struct.pack(">I", len(body)) + body


def instance(iid, host, port, meta):
    m = struct.pack(">bbi", T_STRING, T_STRING, len(meta))
    for k, v in meta.items():
        m += s(k) + s(v)
    return (field(T_STRING, 1, s(iid)) + field(T_STRING, 2, s(host)) +
            field(T_I32, 3, struct.pack(">i", port)) + field(T_MAP, 4, m) + b"\x00")


def register(service, iid, port, lease="", token=""):
    return call("registerInstance",
                field(T_STRING, 1, s(service)) +
                field(T_STRUCT, 2, instance(iid, "127.0.0.1", port, {"zone": "a"})) +
                field(T_STRING, 3, s(lease)) + field(T_STRING, 4, s(token)))


def ref(method, service, iid, lease, token=""):
    return call(method, field(T_STRING, 1, s(service)) + field(T_STRING, 2, s(iid)) +
                field(T_STRING, 3, s(lease)) + field(T_STRING, 4, s(token)))


def lookup(service):
    return call("lookup", field(T_STRING, 1, s(service)))


def watch(service, version, wait):
    return call("watch", field(T_STRING, 1, s(service)) +
                field(T_I64, 2, struct.pack(">q", version)) + field(T_I32, 3, struct.pack(">i", wait)))


REGISTRY = {
    "register_lookup": b"\x00" + register("prime", "r1", 7001) + lookup("prime"),
    "register_twice_heartbeat": b"\x02" + register("prime", "r1", 7001) +
        register("voting", "r1", 7001) + ref("heartbeat", "prime", "r1", "0" * 32) +
        call("listServices", b""),
    "token_refused_then_ok": b"\x01" + register("prime", "r1", 7001) +
        register("prime", "r1", 7001, token="fuzz-token") + lookup("prime"),
    "deregister": b"\x00" + register("voting", "r2", 7002) +
        ref("deregister", "voting", "r2", "") + lookup("voting"),
    "watch": b"\x00" + lookup("prime") + watch("prime", 0, 1) + watch("prime", 7, 1),
    "limits": b"\x00" + b"".join(register("prime", "r%d" % i, 7000 + i) for i in range(6)),
    "expiry": b"\xfe" + register("prime", "r1", 7001) + b"".join(lookup("prime") for _ in range(4)),
    "ping_unknown": b"\x00" + call("ping", b"") + call("noSuchMethod", b""),
    "bad_args": b"\x00" + lookup("") + watch("prime", 0, 0) + register("a b", "r1", 0),
}


def fuzz_string(v):
    b = v.encode() if isinstance(v, str) else v
    return struct.pack(">H", len(b)) + b


def create(question, options, request_id=""):
    out = bytes([0]) + fuzz_string(question) + bytes([len(options)])
    for o in options:
        out += fuzz_string(o)
    return out + fuzz_string(request_id)


def vote(pick, voter, option):
    return bytes([1, pick]) + fuzz_string(voter) + fuzz_string(option)


VOTING = {
    "create_vote_results": create("Colour?", ["red", "green"]) + vote(0, "alice", "red") +
        vote(0, "alice", "red") + vote(0, "alice", "green") + bytes([2, 0]),
    "close_then_vote": create("Q?", ["a", "b"], "req-1") + bytes([4, 0]) + vote(0, "bob", "a"),
    "unicode": create("¿Qué? 日本語 🗳️", ["Ünï", "🙂", "' OR 1=1"]) + vote(0, "Zoë", "🙂"),
    "bad_text": create("a\x07", ["x", "x"]) + create("\xc0\xaf".encode("latin-1"), ["a", "b"]) +
        vote(250, "", "") + bytes([3, 0, 0, 0, 1, 20]),
}


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


write("registry_request", REGISTRY)
write("voting_rules", VOTING)
