package datasets

import (
	"strings"
)

// Message is one turn of a chat-style record.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatFormat renders a conversation to the text that is tokenized.
type ChatFormat func(msgs []Message) string

// DefaultChatFormat renders a conversation as one "role: content" block per message, blocks
// separated by a blank line:
//
//	system: You are a player in a Shakespeare scene.
//
//	user: First Citizen: …
//
// It uses no model-specific special tokens; pass a model's own template as
// Options.ChatFormat when the text is meant to follow it.
func DefaultChatFormat(msgs []Message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(m.Role)
		b.WriteString(": ")
		b.WriteString(m.Content)
	}
	return b.String()
}

// asMessages converts a field value to a conversation when it is a list of structs that each
// carry role/content (or ShareGPT's from/value) string fields. Null elements are skipped.
func asMessages(v any) ([]Message, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]Message, 0, len(list))
	for _, e := range list {
		if e == nil {
			continue
		}
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		role, rok := messageField(m, "role", "from")
		content, cok := messageField(m, "content", "value")
		if !rok || !cok {
			return nil, false
		}
		out = append(out, Message{Role: role, Content: content})
	}
	return out, true
}

// messageField returns the string under key (or alt); a null value is an empty string.
func messageField(m map[string]any, key, alt string) (string, bool) {
	v, ok := m[key]
	if !ok {
		v, ok = m[alt]
	}
	if !ok {
		return "", false
	}
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	}
	return "", false
}

// renderText turns a field value into document text: strings as they are, conversations
// through chat, lists of strings joined by newlines, scalars formatted, null as "".
// ok is false for values that have no sensible text form (structs, mixed lists).
func renderText(v any, chat ChatFormat) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case []byte:
		return string(x), true
	case int64, float64, bool:
		return scalarString(x), true
	case []any:
		if msgs, ok := asMessages(x); ok && len(x) > 0 {
			if chat == nil {
				chat = DefaultChatFormat
			}
			return chat(msgs), true
		}
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, "\n"), true
	}
	return "", false
}
