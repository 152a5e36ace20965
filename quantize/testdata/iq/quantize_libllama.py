#!/usr/bin/python3
"""The SHA-256 of llama.cpp's quantization of the fixture teacher to every codebook and ternary
mix, through libllama's llama_model_quantize called as tools/quantize/quantize.cpp calls it
(same default parameters, importance matrix normalised as its loader does, the same four
quantize.imatrix.* metadata overrides). For when the llama-quantize binary is not built; make.sh
does the same with the binaries.

usage (in this folder): quantize_libllama.py LLAMA_CPP_DIR TEACHER_F32_GGUF > digests.txt
       quantize_libllama.py LLAMA_CPP_DIR TEACHER_F32_GGUF MIX...   (keeps MIX.gguf here)
The importance matrix is ./imatrix.gguf, recorded under that name as llama-quantize would.
"""
import ctypes, hashlib, os, sys, tempfile

import numpy as np

root, teacher = sys.argv[1], sys.argv[2]
only = sys.argv[3:]  # optional: mixes to make, kept in the current folder as MIX.gguf
sys.path.insert(0, os.path.join(root, 'gguf-py'))
import gguf  # noqa: E402

MIXES = [('IQ2_XXS', 19), ('IQ2_XS', 20), ('IQ2_S', 28), ('IQ2_M', 29), ('IQ1_S', 24), ('IQ1_M', 31),
         ('TQ1_0', 36), ('TQ2_0', 37), ('IQ3_XXS', 23), ('IQ3_S', 26), ('IQ3_M', 27), ('IQ3_XS', 22)]


class ImatrixData(ctypes.Structure):
    _fields_ = [('name', ctypes.c_char_p), ('data', ctypes.POINTER(ctypes.c_float)), ('size', ctypes.c_size_t)]


class KVOverride(ctypes.Structure):
    # the union after key holds an int64/double, so it starts 8-byte aligned
    _fields_ = [('tag', ctypes.c_int), ('key', ctypes.c_char * 128), ('pad', ctypes.c_char * 4),
                ('val', ctypes.c_char * 128)]


class Params(ctypes.Structure):
    _fields_ = [('nthread', ctypes.c_int32), ('ftype', ctypes.c_int), ('output_tensor_type', ctypes.c_int),
                ('token_embedding_type', ctypes.c_int), ('allow_requantize', ctypes.c_bool),
                ('quantize_output_tensor', ctypes.c_bool), ('only_copy', ctypes.c_bool), ('pure', ctypes.c_bool),
                ('keep_split', ctypes.c_bool), ('dry_run', ctypes.c_bool),
                ('imatrix', ctypes.POINTER(ImatrixData)), ('kv_overrides', ctypes.POINTER(KVOverride)),
                ('tt_overrides', ctypes.c_void_p), ('prune_layers', ctypes.c_void_p)]


lib = ctypes.CDLL(os.path.join(root, 'build', 'bin', 'libllama.so'))
lib.llama_model_quantize_default_params.restype = Params
lib.llama_model_quantize.restype = ctypes.c_uint32
lib.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(Params)]
lib.llama_backend_init()

# The importance matrix as quantize.cpp's load_imatrix normalises a GGUF one.
r = gguf.GGUFReader('imatrix.gguf')
field = lambda k: r.fields[k]
datasets = [bytes(field('imatrix.datasets').parts[i]).decode() for i in field('imatrix.datasets').data]
chunks = int(field('imatrix.chunk_count').parts[-1][0])
tensors = {t.name: t for t in r.tensors}
keep, entries = [], []
for name in sorted(tensors):
    if not name.endswith('.in_sum2'):
        continue
    base = name[:-len('.in_sum2')]
    sums = np.array(tensors[name].data, dtype=np.float32).reshape(-1)
    counts = np.array(tensors[base + '.counts'].data, dtype=np.float32).reshape(-1)
    ne0 = sums.size // counts.size
    e = np.empty_like(sums)
    for j, c in enumerate(counts):
        c = np.float32(np.round(c))  # std::lround, then (float)
        e[j * ne0:(j + 1) * ne0] = sums[j * ne0:(j + 1) * ne0] / c if c > 0 else 1
    keep.append(e)
    entries.append(ImatrixData(base.encode(), e.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), e.size))
entries.append(ImatrixData(None, None, 0))
imatrix = (ImatrixData * len(entries))(*entries)


def kv(key, s=None, i=None):
    o = KVOverride()
    o.key = key.encode()
    if s is not None:
        o.tag, o.val = 3, s.encode()[:127]
    else:
        o.tag = 0
        ctypes.memmove(ctypes.addressof(o) + KVOverride.val.offset, ctypes.byref(ctypes.c_int64(i)), 8)
    return o


kvs = [kv('quantize.imatrix.file', s='imatrix.gguf')]
if datasets:
    kvs.append(kv('quantize.imatrix.dataset', s=datasets[0]))
kvs.append(kv('quantize.imatrix.entries_count', i=len(keep)))
if chunks > 0:
    kvs.append(kv('quantize.imatrix.chunks_count', i=chunks))
kvs.append(KVOverride())
overrides = (KVOverride * len(kvs))(*kvs)

with tempfile.TemporaryDirectory() as tmp:
    for mix, ftype in MIXES:
        if only and mix not in only:
            continue
        p = lib.llama_model_quantize_default_params()
        p.ftype, p.nthread = ftype, 2
        p.imatrix = imatrix
        p.kv_overrides = overrides
        out = os.path.join('.' if only else tmp, mix + '.gguf')
        if lib.llama_model_quantize(teacher.encode(), out.encode(), ctypes.byref(p)) != 0:
            sys.exit('llama_model_quantize failed for ' + mix)
        print(hashlib.sha256(open(out, 'rb').read()).hexdigest(), mix)
