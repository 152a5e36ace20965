// Package layering holds no code; its test checks the direction of imports between the
// module's packages (see docs/DESIGN.md, "Packages and the direction of imports"):
//
//   - the leaf codecs (quantize/codec, the ggml block formats, and convert/dtype, the scalar
//     float formats) depend on no package of the module but each other;
//   - the file-format codecs (convert/gguf, convert/safetensors) depend only on internal/
//     helpers;
//   - quantize and its subpackages do not depend on runtime;
//   - runtime/kernels takes the codecs from quantize/codec, not from the quantize pipeline;
//   - no package depends on cmd.
//
// The test reads the import graph with `go list -deps` (no network; the module's dependencies
// are needed to build the tests anyway) and runs in `make test`.
package layering
