"""Read a GGUF file's header and tensor table, never its tensor data.

``read_gguf(path) -> GGUFFile`` reads the metadata key/values and the tensor table with
buffered reads and ``struct``: a 400 GB file is read in well under a second, because the
only large things in a header are arrays such as ``tokenizer.ggml.tokens``, and those are
skipped (their length is kept) without being materialised. ``gguf``'s own ``GGUFReader``
memory-maps the file and parses every array eagerly, which is why it is not used here;
its constants are (``GGUFValueType``, ``GGMLQuantizationType``, ``GGML_QUANT_SIZES``, the
key templates in ``Keys``).

Split models (``name-00001-of-00003.gguf``) are read across all shards: metadata from the
first, tensors from every one. A missing shard, a file that is not a GGUF or a header cut
short raise ``GGUFError``; a missing path, a directory or an unreadable file raise
``InputError``. A tensor type or metadata key this reader does not know is reported in
``unknown_tensor_types`` / ``unknown_keys``, not fatal.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rigbench.errors import GGUFError, InputError

__all__ = ["GGUFFile", "SkippedArray", "TensorInfo", "file_type_label", "read_gguf", "shard_paths"]

_SPLIT = re.compile(r"^(?P<prefix>.*)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")
_CHUNK = 1 << 20
_KEEP_ARRAY_MAX = 4096  # arrays longer than this are skipped (their length is kept)
_MAX_DIMS = 8
_MAX_COUNT = 50_000_000

# general.file_type -> llama.cpp's label (llama_ftype_name in src/llama-model-loader.cpp), by the
# names of gguf's LlamaFileType so that the numbers come from gguf, not from here.
_FTYPE_LABELS = {
    "ALL_F32": "all F32", "MOSTLY_F16": "F16", "MOSTLY_BF16": "BF16", "MOSTLY_Q1_0": "Q1_0",
    "MOSTLY_Q4_0": "Q4_0", "MOSTLY_Q4_1": "Q4_1", "MOSTLY_Q5_0": "Q5_0", "MOSTLY_Q5_1": "Q5_1",
    "MOSTLY_Q8_0": "Q8_0", "MOSTLY_MXFP4_MOE": "MXFP4 MoE", "MOSTLY_NVFP4": "NVFP4",
    "MOSTLY_Q2_K": "Q2_K - Medium", "MOSTLY_Q2_K_S": "Q2_K - Small", "MOSTLY_Q3_K_S": "Q3_K - Small",
    "MOSTLY_Q3_K_M": "Q3_K - Medium", "MOSTLY_Q3_K_L": "Q3_K - Large", "MOSTLY_Q4_K_S": "Q4_K - Small",
    "MOSTLY_Q4_K_M": "Q4_K - Medium", "MOSTLY_Q5_K_S": "Q5_K - Small", "MOSTLY_Q5_K_M": "Q5_K - Medium",
    "MOSTLY_Q6_K": "Q6_K", "MOSTLY_TQ1_0": "TQ1_0 - 1.69 bpw ternary", "MOSTLY_TQ2_0": "TQ2_0 - 2.06 bpw ternary",
    "MOSTLY_IQ2_XXS": "IQ2_XXS - 2.0625 bpw", "MOSTLY_IQ2_XS": "IQ2_XS - 2.3125 bpw",
    "MOSTLY_IQ2_S": "IQ2_S - 2.5 bpw", "MOSTLY_IQ2_M": "IQ2_M - 2.7 bpw", "MOSTLY_IQ3_XS": "IQ3_XS - 3.3 bpw",
    "MOSTLY_IQ3_XXS": "IQ3_XXS - 3.0625 bpw", "MOSTLY_IQ1_S": "IQ1_S - 1.5625 bpw",
    "MOSTLY_IQ1_M": "IQ1_M - 1.75 bpw", "MOSTLY_IQ4_NL": "IQ4_NL - 4.5 bpw", "MOSTLY_IQ4_XS": "IQ4_XS - 4.25 bpw",
    "MOSTLY_IQ3_S": "IQ3_S - 3.4375 bpw", "MOSTLY_IQ3_M": "IQ3_S mix - 3.66 bpw",
}
_FTYPE_GUESSED = 1024


@dataclass(frozen=True)
class SkippedArray:
    """A metadata array too long to keep (a vocabulary, merges, scores): its type and length."""

    item_type: str
    length: int

    def __len__(self) -> int:
        return self.length


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # GGUF order: shape[0] is the row length
    type_id: int
    type_name: str  # GGMLQuantizationType name, or "unknown(N)"
    n_elements: int
    n_bytes: int  # from GGML_QUANT_SIZES; for an unknown type, the gap to the next tensor
    shard: int
    offset: int  # within its shard's data section
    size_known: bool = True


@dataclass(frozen=True)
class GGUFFile:
    path: Path
    shards: tuple[Path, ...]
    version: int
    metadata: Mapping[str, Any]
    tensors: tuple[TensorInfo, ...]
    file_bytes: int  # all shards together
    unknown_keys: tuple[str, ...] = ()
    unknown_tensor_types: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    def arch_key(self, suffix: str, default: Any = None) -> Any:
        """``{arch}.suffix`` from the metadata."""
        return self.metadata.get(f"{self.architecture}.{suffix}", default)

    @property
    def weights_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)


def file_type_label(file_type: int | None) -> str | None:
    """general.file_type as llama.cpp names it (``15`` -> ``"Q4_K - Medium"``)."""
    if file_type is None:
        return None
    from gguf import LlamaFileType

    guessed = bool(file_type & _FTYPE_GUESSED)
    base = file_type & ~_FTYPE_GUESSED
    try:
        label = _FTYPE_LABELS.get(LlamaFileType(base).name)
    except ValueError:
        label = None
    if label is None:
        return f"unknown (file_type {file_type})"
    return f"(guessed) {label}" if guessed else label


def shard_paths(path: Path) -> tuple[Path, ...]:
    """All shards of a split model, first one first; a single-file model is its own shard."""
    m = _SPLIT.match(path.name)
    if not m:
        return (path,)
    count = int(m.group("count"))
    if count < 1 or int(m.group("no")) < 1 or int(m.group("no")) > count:
        raise GGUFError(f"{path.name}: the shard number in the name is not valid",
                        "split files are named NAME-00001-of-0000N.gguf")
    prefix = m.group("prefix")
    return tuple(path.with_name(f"{prefix}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1))


def read_gguf(path: str | Path) -> GGUFFile:
    """Header facts of a GGUF model (all shards of a split one). Reads no tensor data."""
    p = Path(path).expanduser()
    _check_readable(p)
    shards = shard_paths(p)
    missing = [s for s in shards if not s.exists()]
    if missing:
        raise GGUFError(
            f"{p.name} is one of {len(shards)} shards, and {len(missing)} of them are missing "
            f"({', '.join(s.name for s in missing[:3])}{', ...' if len(missing) > 3 else ''})",
            f"download all {len(shards)} shards into {p.parent}",
        )
    parsed = [_read_one(s) for s in shards]
    first = parsed[0]
    metadata = dict(first.metadata)
    warnings: list[str] = []
    count = metadata.get("split.count")
    if len(shards) == 1 and isinstance(count, int) and count > 1:
        raise GGUFError(f"{p.name} is shard 1 of {count} of a split model, but its name does not say so",
                        "keep the shards' names as gguf-split wrote them (NAME-00001-of-0000N.gguf)")
    for i, sh in enumerate(parsed):
        no = sh.metadata.get("split.no")
        if len(shards) > 1 and isinstance(no, int) and no != i:
            raise GGUFError(f"{shards[i].name} says it is shard {no + 1}, not shard {i + 1}",
                            "the shards may come from different models; download them again")
    tensors = tuple(t for sh in parsed for t in sh.tensors)
    declared = metadata.get("split.tensors.count")
    if len(shards) > 1 and isinstance(declared, int) and declared != len(tensors):
        warnings.append(f"the shards hold {len(tensors)} tensors, the first shard declares {declared}")
    for sh in parsed:
        warnings.extend(sh.warnings)
    unknown_types = sorted({t.type_name for t in tensors if not t.size_known})
    return GGUFFile(
        path=shards[0],
        shards=shards,
        version=first.version,
        metadata=metadata,
        tensors=tensors,
        file_bytes=sum(sh.size for sh in parsed),
        unknown_keys=tuple(sorted(_unknown_keys(metadata))),
        unknown_tensor_types=tuple(unknown_types),
        warnings=tuple(warnings),
    )


def _check_readable(p: Path) -> None:
    if p.is_dir():
        inside = sorted(x.name for x in p.glob("*.gguf"))[:5]
        hint = f"give one of the .gguf files inside it: {', '.join(inside)}" if inside else "give a .gguf file"
        raise InputError(f"{p} is a directory, not a GGUF file", hint)
    if not p.exists():
        raise InputError(f"{p} does not exist", "check the path to the .gguf file")
    try:
        with p.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}", "check the file's permissions") from None


@dataclass
class _Shard:
    version: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo]
    size: int
    warnings: list[str]


class _Reader:
    """Buffered little/big-endian reads over a file, with truncation checks."""

    def __init__(self, f: IO[bytes], size: int, name: str) -> None:
        self.f, self.size, self.name = f, size, name
        self.buf = b""
        self.pos = 0
        self.base = 0
        self.e = "<"

    def offset(self) -> int:
        return self.base + self.pos

    def _need(self, n: int) -> None:
        if len(self.buf) - self.pos >= n:
            return
        rest = self.buf[self.pos:]
        more = self.f.read(max(n - len(rest), _CHUNK))
        self.base += self.pos
        self.buf, self.pos = rest + more, 0
        if len(self.buf) < n:
            raise GGUFError(
                f"{self.name} is truncated: its header needs more bytes than the file has "
                f"({self.size:,} bytes)",
                "the download may be incomplete; download the file again",
            )

    def take(self, n: int) -> bytes:
        if n > self.size - self.offset():
            self._need(self.size - self.offset() + 1)  # raises: truncated
        self._need(n)
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> Any:
        s = struct.Struct(self.e + fmt)
        self._need(s.size)
        (v,) = s.unpack_from(self.buf, self.pos)
        self.pos += s.size
        return v

    def skip(self, n: int) -> None:
        if n <= len(self.buf) - self.pos:
            self.pos += n
            return
        target = self.offset() + n
        if target > self.size:
            self._need(self.size - self.offset() + 1)  # raises: truncated
        self.f.seek(target)
        self.buf, self.pos, self.base = b"", 0, target

    def string(self) -> str:
        n = self.unpack("Q")
        return self.take(n).decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        """Skip ``count`` length-prefixed strings without decoding them (a vocabulary)."""
        fmt = struct.Struct(self.e + "Q")
        left = count
        while left:
            self._need(8)
            buf, pos, end = self.buf, self.pos, len(self.buf)
            while left and pos + 8 <= end:
                (n,) = fmt.unpack_from(buf, pos)
                if pos + 8 + n > end:
                    break
                pos += 8 + n
                left -= 1
            self.pos = pos
            if left:
                self._need(8)
                (n,) = fmt.unpack_from(self.buf, self.pos)
                self.pos += 8
                self.skip(n)
                left -= 1


def _read_one(path: Path) -> _Shard:
    from gguf import GGML_QUANT_SIZES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGMLQuantizationType

    try:
        size = path.stat().st_size
        f = path.open("rb", buffering=0)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}", "check the file's permissions") from None
    with f:
        r = _Reader(f, size, path.name)
        if size < 8:
            raise GGUFError(f"{path.name} is not a GGUF file (it is only {size} bytes long)", "give a .gguf model file")
        magic = r.take(4)
        if struct.unpack("<I", magic)[0] != GGUF_MAGIC:
            raise GGUFError(f"{path.name} is not a GGUF file (it starts with {magic!r}, not b'GGUF')",
                            "give a .gguf model file (safetensors and other formats need converting first)")
        version = r.unpack("I")
        if version & 0xFFFF == 0 and version != 0:  # written big-endian
            r.e = ">"
            version = struct.unpack(">I", struct.pack("<I", version))[0]
        if version == 1:
            raise GGUFError(f"{path.name} is GGUF version 1, which llama.cpp no longer reads",
                            "convert the model again with a current llama.cpp")
        if version not in (2, 3):
            raise GGUFError(f"{path.name} has GGUF version {version}, which this reader does not know",
                            "upgrade rigbench, or check that the file is a GGUF model")
        n_tensors, n_kv = r.unpack("Q"), r.unpack("Q")
        if n_tensors > _MAX_COUNT or n_kv > _MAX_COUNT:
            raise GGUFError(f"{path.name} has a damaged header ({n_tensors} tensors, {n_kv} keys declared)",
                            "download the file again")
        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = r.string()
            vtype = r.unpack("I")
            metadata[key] = _value(r, vtype, key)
        alignment = metadata.get("general.alignment", GGUF_DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise GGUFError(f"{path.name} declares an invalid general.alignment ({alignment!r})",
                            "download the file again")
        raw: list[tuple[str, tuple[int, ...], int, int]] = []
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.unpack("I")
            if n_dims > _MAX_DIMS:
                raise GGUFError(f"{path.name} has a damaged tensor table (tensor {name!r} has {n_dims} dims)",
                                "download the file again")
            shape = tuple(r.unpack("Q") for _ in range(n_dims))
            raw.append((name, shape, r.unpack("I"), r.unpack("Q")))
        data_start = -(-r.offset() // alignment) * alignment
    data_bytes = max(0, size - data_start)
    ends = sorted({off for *_, off in raw} | {data_bytes})
    tensors: list[TensorInfo] = []
    warnings: list[str] = []
    for name, shape, type_id, off in raw:
        n_el = 1
        for d in shape:
            n_el *= d
        try:
            qtype = GGMLQuantizationType(type_id)
            block, type_size = GGML_QUANT_SIZES[qtype]
            n_bytes, known, type_name = -(-n_el // block) * type_size, True, qtype.name
        except (ValueError, KeyError):
            nxt = next((e for e in ends if e > off), data_bytes)
            n_bytes, known, type_name = max(0, nxt - off), False, f"unknown({type_id})"
        tensors.append(TensorInfo(name, shape, type_id, type_name, n_el, n_bytes, 0, off, known))
    end = max((t.offset + t.n_bytes for t in tensors), default=0)
    if end > data_bytes:
        warnings.append(f"{path.name} is {end - data_bytes:,} bytes shorter than its tensor table says "
                        "(an incomplete download?)")
    shard_no = metadata.get("split.no", 0)
    if isinstance(shard_no, int) and shard_no:
        tensors = [TensorInfo(t.name, t.shape, t.type_id, t.type_name, t.n_elements, t.n_bytes, shard_no,
                              t.offset, t.size_known) for t in tensors]
    return _Shard(version, metadata, tensors, size, warnings)


_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_TYPE_NAMES = {0: "uint8", 1: "int8", 2: "uint16", 3: "int16", 4: "uint32", 5: "int32", 6: "float32",
               7: "bool", 8: "string", 9: "array", 10: "uint64", 11: "int64", 12: "float64"}


def _value(r: _Reader, vtype: int, key: str) -> Any:
    if vtype in _SCALARS:
        return r.unpack(_SCALARS[vtype])
    if vtype == 8:
        return r.string()
    if vtype == 9:
        itype, n = r.unpack("I"), r.unpack("Q")
        if n > _MAX_COUNT * 4:
            raise GGUFError(f"{r.name} has a damaged header (array {key!r} declares {n} items)",
                            "download the file again")
        if n > _KEEP_ARRAY_MAX:
            if itype in _SCALARS:
                r.skip(n * struct.calcsize(_SCALARS[itype]))
            elif itype == 8:
                r.skip_strings(n)
            else:
                raise GGUFError(f"{r.name}: array {key!r} holds {n} items of type {itype}, which cannot be skipped",
                                "this reader does not know the file's layout; check that it is a GGUF model")
            return SkippedArray(_TYPE_NAMES.get(itype, str(itype)), n)
        return [_value(r, itype, key) for _ in range(n)]
    raise GGUFError(f"{r.name}: key {key!r} has value type {vtype}, which this reader does not know",
                    "the file may be damaged or newer than this rigbench; try upgrading rigbench")


def _unknown_keys(metadata: Mapping[str, Any]) -> list[str]:
    """Keys that none of gguf's key templates (``Keys``) names."""
    from gguf import Keys

    arch = re.escape(str(metadata.get("general.architecture", "")))
    exact: set[str] = set()
    patterns: list[str] = []
    for group in vars(Keys).values():
        if isinstance(group, type):
            for name, v in vars(group).items():
                if isinstance(v, str) and not name.startswith("_"):
                    if "{" in v:
                        parts = re.split(r"(\{\w+\})", v)
                        patterns.append("".join(
                            arch if x == "{arch}" else r"[^.]+" if x.startswith("{") else re.escape(x)
                            for x in parts))
                    else:
                        exact.add(v)
    rx = re.compile("|".join(patterns)) if patterns else None
    return [k for k in metadata if k not in exact and not (rx and rx.fullmatch(k))]
