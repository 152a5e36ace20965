#!/usr/bin/python3
"""Reference data for the issue-16 types (IQ1/IQ2/IQ3, TQ1_0/TQ2_0).

usage: reference.py LLAMA_CPP_DIR SYNTH_DIR

SYNTH_DIR holds the synthetic matrices written by
  MCOMPRESS_DUMP_SYNTH=SYNTH_DIR go test -run TestDumpSynthCases ./quantize/codec
This script
 1. quantizes each with ggml_quantize_chunk from LLAMA_CPP_DIR/build/bin/libggml-base.so
    (through ctypes) to every type, and writes the SHA-256 of the bytes to reference_digests.json
    (types that ggml_quantize_requires_imatrix only with an importance matrix);
 2. dequantizes deterministic pseudo-random blocks of every type with the gguf Python package's
    reference dequantizers (LLAMA_CPP_DIR/gguf-py, needs numpy) and writes NAME.blocks and
    NAME.f32 (float32 little-endian) into dequant/.
"""
import ctypes, hashlib, json, os, random, struct, sys

import numpy as np

root, synth = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(root, 'gguf-py'))
from gguf import quants  # noqa: E402
from gguf.constants import GGMLQuantizationType as T, GGML_QUANT_SIZES  # noqa: E402

TYPES = ['IQ2_XXS', 'IQ2_XS', 'IQ3_XXS', 'IQ1_S', 'IQ3_S', 'IQ2_S', 'IQ1_M', 'TQ1_0', 'TQ2_0']

lib = ctypes.CDLL(os.path.join(root, 'build', 'bin', 'libggml-base.so'))
lib.ggml_quantize_chunk.restype = ctypes.c_size_t
lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                    ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
lib.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
lib.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]

cols = json.load(open(os.path.join(synth, 'cols.json')))
digests = {}
for name, n in sorted(cols.items()):
    x = open(os.path.join(synth, name + '.x'), 'rb').read()
    im = None
    if os.path.exists(os.path.join(synth, name + '.imatrix')):
        im = open(os.path.join(synth, name + '.imatrix'), 'rb').read()
    nel = len(x) // 4
    for tn in TYPES:
        t = int(T[tn])
        if im is None and lib.ggml_quantize_requires_imatrix(t):
            continue
        bs, ts = GGML_QUANT_SIZES[T[tn]]
        dst = ctypes.create_string_buffer(nel // bs * ts)
        xb = ctypes.create_string_buffer(x, len(x))
        ib = ctypes.create_string_buffer(im, len(im)) if im is not None else None
        got = lib.ggml_quantize_chunk(t, xb, dst, 0, nel // n, n, ib)
        assert got == len(dst.raw), (name, tn, got)
        digests[name + '/' + tn] = hashlib.sha256(dst.raw).hexdigest()
with open(os.path.join(here, 'reference_digests.json'), 'w') as f:
    json.dump(digests, f, indent=2, sort_keys=True)
    f.write('\n')

# Dequantization: 8 blocks of random bytes per type, with finite F16 scales.
os.makedirs(os.path.join(here, 'dequant'), exist_ok=True)
rnd = random.Random(16)
for tn in TYPES:
    bs, ts = GGML_QUANT_SIZES[T[tn]]
    blocks = bytearray()
    for _ in range(8):
        b = bytearray(rnd.getrandbits(8) for _ in range(ts))
        d = struct.pack('<e', rnd.uniform(-2, 2) * 2.0 ** rnd.randint(-14, 0))
        if tn == 'IQ1_M':  # the scale's nibbles are the top nibbles of the four scale words
            h = struct.unpack('<H', d)[0]
            for k in range(4):
                b[ts - 8 + 2 * k + 1] = (b[ts - 8 + 2 * k + 1] & 0x0f) | ((h >> (4 * k)) & 0xf) << 4
        elif tn.startswith('TQ'):
            b[ts - 2:] = d
        else:
            b[0:2] = d
        blocks += b
    y = quants.dequantize(np.frombuffer(bytes(blocks), dtype=np.uint8), T[tn])
    assert np.isfinite(y).all(), tn
    open(os.path.join(here, 'dequant', tn + '.blocks'), 'wb').write(bytes(blocks))
    open(os.path.join(here, 'dequant', tn + '.f32'), 'wb').write(y.astype('<f4').tobytes())
