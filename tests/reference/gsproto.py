"""Shared helpers of the Python reference: protobuf classes, record files, murmur2.

The protobuf classes are generated at run time with `protoc --python_out` from the project's
proto/ directory into a temporary directory (cached by a hash of the .proto files), so the
reference always follows the wire contract in the tree and nothing generated is committed.

Record files (`*.rec`) are a sequence of `[u32 BE key length][key][u32 BE value length][value]`.
"""

import hashlib
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
PROTO_FILE = "gridstream/v1/gridstream.proto"

# Input topics in merge tie order (SPEC §4: reports, then sensors, then video, then cases).
TOPICS = ["city.reports", "city.sensors", "city.video", "city.cases"]
OUTPUT_TOPICS = ["kpi", "incidents", "alerts", "scorecards", "dlq"]

DLQ_REASONS = ["decode", "missing_id", "invalid_enum", "invalid_cell", "invalid_problem_code",
               "invalid_time", "invalid_number", "invalid_position", "key_mismatch",
               "wrong_partition", "unknown_ref"]


def _import_protobuf_runtime():
    """python3-protobuf is a Debian package; make it importable from a non-Debian python3 too."""
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        for d in ("/usr/lib/python3/dist-packages",):
            if os.path.isdir(os.path.join(d, "google", "protobuf")) and d not in sys.path:
                sys.path.append(d)
        import google.protobuf  # noqa: F401


def _load_pb2():
    _import_protobuf_runtime()
    src = os.path.join(PROTO_ROOT, PROTO_FILE)
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache = os.path.join(tempfile.gettempdir(), "gridstream-pyproto-%d-%s" % (os.getuid(), digest))
    out = os.path.join(cache, "gridstream", "v1", "gridstream_pb2.py")
    if not os.path.exists(out):
        tmp = tempfile.mkdtemp(prefix="gridstream-pyproto-")
        subprocess.run(["protoc", "-I", PROTO_ROOT, "--python_out", tmp, PROTO_FILE], check=True)
        try:
            os.rename(tmp, cache)  # atomic: concurrent runs either win or find it done
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    spec = importlib.util.spec_from_file_location("gridstream_v1_pb2", out)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


pb = _load_pb2()

from google.protobuf.message import DecodeError  # noqa: E402  (after the runtime is importable)

TOPIC_TYPES = {
    "city.reports": pb.Report,
    "city.sensors": pb.SensorReading,
    "city.video": pb.VideoDetection,
    "city.cases": pb.CaseEvent,
}

OUTPUT_TYPES = {
    "kpi": pb.KpiRecord,
    "incidents": pb.Incident,
    "alerts": pb.Alert,
    "scorecards": pb.Scorecard,
    "dlq": None,  # value = original input bytes
}


def decode(cls, data):
    """Parse `data` as `cls`; None when the bytes are not a valid message.

    Besides DecodeError, a parse that does not consume every byte (the C++ backend only warns
    about a stray end-group tag) counts as undecodable.
    """
    msg = cls()
    try:
        n = msg.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError):
        return None
    if n is not None and n != len(data):
        return None
    return msg


# ---------------------------------------------------------------------------------------------
# record files

class MalformedFile(Exception):
    pass


def read_records(path):
    """List of (key bytes, value bytes) of a .rec file; MalformedFile on bad framing."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    i = 0
    n = len(data)
    while i < n:
        if n - i < 4:
            raise MalformedFile("%s: truncated key length at byte %d" % (path, i))
        (kl,) = struct.unpack_from(">I", data, i)
        i += 4
        if n - i < kl:
            raise MalformedFile("%s: truncated key at byte %d" % (path, i))
        key = data[i:i + kl]
        i += kl
        if n - i < 4:
            raise MalformedFile("%s: truncated value length at byte %d" % (path, i))
        (vl,) = struct.unpack_from(">I", data, i)
        i += 4
        if n - i < vl:
            raise MalformedFile("%s: truncated value at byte %d" % (path, i))
        out.append((key, data[i:i + vl]))
        i += vl
    return out


def write_records(path, records):
    """Write (key bytes, value bytes) pairs to `path`."""
    with open(path, "wb") as f:
        for key, value in records:
            f.write(struct.pack(">I", len(key)))
            f.write(key)
            f.write(struct.pack(">I", len(value)))
            f.write(value)


# ---------------------------------------------------------------------------------------------
# Kafka Java client partitioner (org.apache.kafka.common.utils.Utils.murmur2)

def murmur2(data):
    """Kafka's murmur2 of `data` as a signed 32-bit int (the Java return value)."""
    mask = 0xFFFFFFFF
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & mask
    length4 = length // 4
    for i in range(length4):
        i4 = i * 4
        k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)
        k = (k * m) & mask
        k ^= k >> r  # Java >>> on a 32-bit value
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    rest = length % 4
    base = length & ~3
    if rest == 3:
        h ^= data[base + 2] << 16
    if rest >= 2:
        h ^= data[base + 1] << 8
    if rest >= 1:
        h ^= data[base]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key, num_partitions):
    """Partition of key bytes under the Java client's default partitioner."""
    return (murmur2(key) & 0x7FFFFFFF) % num_partitions
