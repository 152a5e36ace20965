package convert

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// SentencePiece piece types (sentencepiece_model.proto, SentencePiece.Type); llama.cpp's GGUF
// token types use the same numbers.
const (
	TokenNormal      = 1
	TokenUnknown     = 2
	TokenControl     = 3
	TokenUserDefined = 4
	TokenUnused      = 5
	TokenByte        = 6
)

// SPMPiece is one vocabulary entry of a SentencePiece model.
type SPMPiece struct {
	Piece string
	Score float32
	Type  int32 // TokenNormal ... TokenByte; NORMAL when the field is absent
}

// SPMModel is the part of a SentencePiece model (tokenizer.model, a ModelProto protobuf) that
// conversion needs: the pieces in id order and the trainer and normalizer settings that describe
// how they are used.
type SPMModel struct {
	Pieces []SPMPiece
	// Trainer settings (TrainerSpec); -1 ids mean "none".
	ModelType                              int32 // 1 unigram, 2 BPE, 3 word, 4 char
	VocabSize                              int32
	ByteFallback                           bool
	UnkID, BOSID, EOSID, PadID             int32
	UnkPiece, BOSPiece, EOSPiece, PadPiece string
	// Normalizer settings (NormalizerSpec).
	NormalizerName         string
	AddDummyPrefix         bool
	RemoveExtraWhitespaces bool
	EscapeWhitespaces      bool
	PrecompiledCharsmap    []byte
}

// errProto marks malformed protobuf input.
var errProto = errors.New("malformed SentencePiece model")

// ReadSPM parses the SentencePiece model file at path.
func ReadSPM(path string) (*SPMModel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	m, err := ParseSPM(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadInput, path, err)
	}
	return m, nil
}

// ParseSPM parses a serialized SentencePiece ModelProto. Unknown fields are skipped, as protobuf
// requires; every length is checked against the input.
func ParseSPM(b []byte) (*SPMModel, error) {
	m := &SPMModel{
		ModelType: 1, VocabSize: 8000, UnkID: 0, BOSID: 1, EOSID: 2, PadID: -1,
		UnkPiece: "<unk>", BOSPiece: "<s>", EOSPiece: "</s>", PadPiece: "<pad>",
		AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true,
	}
	err := walkProto(b, func(field int, wire int, v uint64, sub []byte) error {
		switch field {
		case 1: // pieces
			if wire != 2 {
				return fmt.Errorf("%w: piece field has wire type %d", errProto, wire)
			}
			p, err := parsePiece(sub)
			if err != nil {
				return fmt.Errorf("piece %d: %w", len(m.Pieces), err)
			}
			m.Pieces = append(m.Pieces, p)
		case 2: // trainer_spec
			if wire == 2 {
				return m.parseTrainer(sub)
			}
		case 3: // normalizer_spec
			if wire == 2 {
				return m.parseNormalizer(sub)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(m.Pieces) == 0 {
		return nil, fmt.Errorf("%w: no pieces", errProto)
	}
	return m, nil
}

func parsePiece(b []byte) (SPMPiece, error) {
	p := SPMPiece{Type: TokenNormal}
	err := walkProto(b, func(field, wire int, v uint64, sub []byte) error {
		switch {
		case field == 1 && wire == 2:
			p.Piece = string(sub)
		case field == 2 && wire == 5:
			p.Score = math.Float32frombits(uint32(v))
		case field == 3 && wire == 0:
			p.Type = int32(v)
		}
		return nil
	})
	return p, err
}

func (m *SPMModel) parseTrainer(b []byte) error {
	return walkProto(b, func(field, wire int, v uint64, sub []byte) error {
		switch {
		case wire == 0 && field == 3:
			m.ModelType = int32(v)
		case wire == 0 && field == 4:
			m.VocabSize = int32(v)
		case wire == 0 && field == 35:
			m.ByteFallback = v != 0
		case wire == 0 && field == 40:
			m.UnkID = int32(v)
		case wire == 0 && field == 41:
			m.BOSID = int32(v)
		case wire == 0 && field == 42:
			m.EOSID = int32(v)
		case wire == 0 && field == 43:
			m.PadID = int32(v)
		case wire == 2 && field == 45:
			m.UnkPiece = string(sub)
		case wire == 2 && field == 46:
			m.BOSPiece = string(sub)
		case wire == 2 && field == 47:
			m.EOSPiece = string(sub)
		case wire == 2 && field == 48:
			m.PadPiece = string(sub)
		}
		return nil
	})
}

func (m *SPMModel) parseNormalizer(b []byte) error {
	return walkProto(b, func(field, wire int, v uint64, sub []byte) error {
		switch {
		case wire == 2 && field == 1:
			m.NormalizerName = string(sub)
		case wire == 2 && field == 2:
			m.PrecompiledCharsmap = append([]byte(nil), sub...)
		case wire == 0 && field == 3:
			m.AddDummyPrefix = v != 0
		case wire == 0 && field == 4:
			m.RemoveExtraWhitespaces = v != 0
		case wire == 0 && field == 5:
			m.EscapeWhitespaces = v != 0
		}
		return nil
	})
}

// walkProto calls fn for every field of the message b: varints and fixed values in v,
// length-delimited payloads in sub. Groups (deprecated) are rejected.
func walkProto(b []byte, fn func(field, wire int, v uint64, sub []byte) error) error {
	for off := 0; off < len(b); {
		key, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return fmt.Errorf("%w: bad field key at offset %d", errProto, off)
		}
		off += n
		field, wire := int(key>>3), int(key&7)
		if field == 0 {
			return fmt.Errorf("%w: field number 0 at offset %d", errProto, off-n)
		}
		var v uint64
		var sub []byte
		switch wire {
		case 0:
			v, n = binary.Uvarint(b[off:])
			if n <= 0 {
				return fmt.Errorf("%w: bad varint at offset %d", errProto, off)
			}
			off += n
		case 1:
			if len(b)-off < 8 {
				return fmt.Errorf("%w: truncated fixed64 at offset %d", errProto, off)
			}
			v = binary.LittleEndian.Uint64(b[off:])
			off += 8
		case 5:
			if len(b)-off < 4 {
				return fmt.Errorf("%w: truncated fixed32 at offset %d", errProto, off)
			}
			v = uint64(binary.LittleEndian.Uint32(b[off:]))
			off += 4
		case 2:
			l, n := binary.Uvarint(b[off:])
			if n <= 0 || l > uint64(len(b)-off-n) {
				return fmt.Errorf("%w: length-delimited field %d at offset %d runs past the end", errProto, field, off)
			}
			off += n
			sub = b[off : off+int(l)]
			off += int(l)
		default:
			return fmt.Errorf("%w: unsupported wire type %d at offset %d", errProto, wire, off-n)
		}
		if err := fn(field, wire, v, sub); err != nil {
			return err
		}
	}
	return nil
}

// Marshal serializes the model as a ModelProto: the pieces, then a TrainerSpec and a
// NormalizerSpec holding the settings above (fields at their proto defaults are still written,
// so that sentencepiece and transformers read the same values).
func (m *SPMModel) Marshal() []byte {
	var out []byte
	for _, p := range m.Pieces {
		var pb []byte
		pb = appendBytesField(pb, 1, []byte(p.Piece))
		pb = binary.AppendUvarint(pb, 2<<3|5)
		pb = binary.LittleEndian.AppendUint32(pb, math.Float32bits(p.Score))
		if p.Type != TokenNormal {
			pb = appendVarintField(pb, 3, uint64(p.Type))
		}
		out = appendBytesField(out, 1, pb)
	}
	var ts []byte
	ts = appendVarintField(ts, 3, uint64(m.ModelType))
	ts = appendVarintField(ts, 4, uint64(int64(m.VocabSize)))
	ts = appendVarintField(ts, 35, boolVarint(m.ByteFallback))
	ts = appendVarintField(ts, 40, uint64(int64(m.UnkID)))
	ts = appendVarintField(ts, 41, uint64(int64(m.BOSID)))
	ts = appendVarintField(ts, 42, uint64(int64(m.EOSID)))
	ts = appendVarintField(ts, 43, uint64(int64(m.PadID)))
	ts = appendBytesField(ts, 45, []byte(m.UnkPiece))
	ts = appendBytesField(ts, 46, []byte(m.BOSPiece))
	ts = appendBytesField(ts, 47, []byte(m.EOSPiece))
	ts = appendBytesField(ts, 48, []byte(m.PadPiece))
	out = appendBytesField(out, 2, ts)
	var ns []byte
	ns = appendBytesField(ns, 1, []byte(m.NormalizerName))
	if len(m.PrecompiledCharsmap) > 0 {
		ns = appendBytesField(ns, 2, m.PrecompiledCharsmap)
	}
	ns = appendVarintField(ns, 3, boolVarint(m.AddDummyPrefix))
	ns = appendVarintField(ns, 4, boolVarint(m.RemoveExtraWhitespaces))
	ns = appendVarintField(ns, 5, boolVarint(m.EscapeWhitespaces))
	out = appendBytesField(out, 3, ns)
	return out
}

func boolVarint(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3)
	return binary.AppendUvarint(b, v)
}

func appendBytesField(b []byte, field int, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}
