package convert

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// generalInfo holds the authorship metadata llama.cpp's gguf.Metadata derives for a model
// folder (general.name, size label, license, base models ...).
type generalInfo struct {
	name, author, version, organization, finetune, basename, description  string
	sizeLabel, license, licenseName, licenseLink                          string
	url, doi, uuid, repoURL, sourceURL, sourceDOI, sourceUUID, sourceRepo string
	baseModels, datasets                                                  []map[string]string
	tags, languages                                                       []string
	hasBaseModels, hasDatasets                                            bool
}

var (
	reVersion  = regexp.MustCompile(`(?i)^(?:(v|iter)?\d+([.]\d+)*)$`)
	reQuant    = regexp.MustCompile(`(?i)^(?:i?q\d(_\w)*|b?fp?(16|32))$`)
	reSize     = regexp.MustCompile(`(?i)^(?:(([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl))$`)
	reFinetune = regexp.MustCompile(`(?i)^(?:chat|instruct|vision|lora)$`)
	reTitleNo  = regexp.MustCompile(`^(v\d+(?:\.\d+)*|\d.*)$`)
	reHFURL    = regexp.MustCompile(`^https?://huggingface.co/([^/]+/[^/]+)$`)
)

// pyTitle is Python's str.title(): a cased letter after an uncased character is upper-cased,
// every other cased letter lower-cased.
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		cased := unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r)
		switch {
		case cased && !prevCased:
			b.WriteRune(unicode.ToTitle(r))
		case cased:
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
		prevCased = cased
	}
	return b.String()
}

// pyIsLower is Python's str.islower(): at least one cased character and none upper or title case.
func pyIsLower(s string) bool {
	cased := false
	for _, r := range s {
		if unicode.IsUpper(r) || unicode.IsTitle(r) {
			return false
		}
		if unicode.IsLower(r) {
			cased = true
		}
	}
	return cased
}

// idToTitle turns a model id into a title as llama.cpp does ("llama-3.2-1b" -> "Llama 3.2 1b").
func idToTitle(s string) string {
	words := strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "-", " "))
	for i, w := range words {
		if pyIsLower(w) && !reTitleNo.MatchString(w) {
			words[i] = pyTitle(w)
		}
	}
	return strings.Join(words, " ")
}

func isDecimal(r byte) bool { return r >= '0' && r <= '9' }

// modelIDComponents is llama.cpp's Metadata.get_model_id_components: it splits a model id
// ("org/Name-7B-Instruct-v0.2") into its full name, organization, base name, fine-tune, version
// and size label, guided by the real parameter count. Absent parts are "".
func modelIDComponents(id string, totalParams int64) (full, org, basename, finetune, version, sizeLabel string, ok bool) {
	if strings.Contains(id, " ") {
		return id, "", "", "", "", "", true
	}
	full = id
	if o, rest, found := strings.Cut(id, "/"); found {
		org, full = o, rest
	}
	if org != "" && org[0] == '.' {
		org = ""
	}
	var parts []string
	for _, p := range strings.Split(full, "-") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	types := make([]map[string]bool, len(parts))
	for i := range types {
		types[i] = map[string]bool{}
	}
	for i, part := range parts {
		switch {
		case reVersion.MatchString(part):
			types[i]["version"] = true
		case reQuant.MatchString(part):
			types[i]["type"] = true
			parts[i] = strings.ToUpper(part)
		case i > 0 && reSize.MatchString(part):
			part = strings.ReplaceAll(part, "_", ".")
			if isDecimal(part[len(part)-1]) {
				part = part[:len(part)-2] + "." + part[len(part)-1:] + part[len(part)-2:len(part)-1]
			}
			if len(part) > 1 && isDecimal(part[len(part)-2]) && strings.ContainsRune("kmbt", rune(part[len(part)-1])) {
				part = part[:len(part)-1] + strings.ToUpper(part[len(part)-1:])
			}
			if totalParams != 0 {
				if f, err := strconv.ParseFloat(part[:len(part)-1], 64); err == nil {
					label := f * math.Pow(1000, float64(strings.Index(" KMBT", part[len(part)-1:])))
					tp := float64(totalParams)
					if (totalParams < 0 && label < float64(floorDiv(-totalParams, 8))) ||
						(totalParams > 0 && math.Abs(label-tp) > float64(floorDiv(7*totalParams, 8))) {
						types[i]["finetune"] = true
						part = part[:len(part)-1] + strings.ToLower(part[len(part)-1:])
					}
				}
			}
			if len(types[i]) == 0 {
				types[i]["size_label"] = true
			}
			parts[i] = part
		case i > 0 && reFinetune.MatchString(part):
			if totalParams < 0 && strings.EqualFold(part, "lora") {
				types[i]["type"] = true
			} else {
				types[i]["finetune"] = true
			}
		}
	}
	numericSize := false
	for i, p := range parts {
		if types[i]["size_label"] && strings.IndexFunc(p, unicode.IsDigit) >= 0 {
			numericSize = true
		}
	}
	if numericSize {
		for i, p := range parts {
			if types[i]["size_label"] && strings.IndexFunc(p, func(r rune) bool { return !unicode.IsLetter(r) }) < 0 {
				delete(types[i], "size_label")
			}
		}
	}
	atStart := true
	for i, p := range parts {
		first, _ := firstRune(p)
		if atStart && ((len(types[i]) == 0 && unicode.IsLetter(first)) || types[i]["version"]) {
			types[i]["basename"] = true
		} else {
			atStart = false
			if len(types[i]) == 0 {
				types[i]["finetune"] = true
			}
		}
	}
	for i := len(parts) - 1; i >= 0; i-- {
		if types[i]["basename"] && len(types[i]) > 1 {
			delete(types[i], "basename")
		} else {
			break
		}
	}
	join := func(pred func(int) bool, dedup bool) string {
		var out []string
		seen := map[string]bool{}
		for i, p := range parts {
			if pred(i) && !(dedup && seen[p]) {
				out = append(out, p)
				seen[p] = true
			}
		}
		return strings.Join(out, "-")
	}
	basename = join(func(i int) bool { return types[i]["basename"] }, false)
	sizeLabel = join(func(i int) bool { return types[i]["size_label"] }, true)
	finetune = join(func(i int) bool { return types[i]["finetune"] }, false)
	version = join(func(i int) bool { return types[i]["version"] && !types[i]["basename"] }, false)
	if sizeLabel == "" && finetune == "" && version == "" {
		basename = ""
	}
	return full, org, basename, finetune, version, sizeLabel, true
}

// floorDiv is Python's // for a positive divisor.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}

func firstRune(s string) (rune, bool) {
	for _, r := range s {
		return r, true
	}
	return 0, false
}

// sizeLabel is llama.cpp's parameter-count label ("4.2M", "1.2B").
func sizeLabel(n int64) string {
	f := float64(n)
	var scaled float64
	var suffix string
	switch {
	case f > 1e12:
		scaled, suffix = f*1e-12, "T"
	case f > 1e9:
		scaled, suffix = f*1e-9, "B"
	case f > 1e6:
		scaled, suffix = f*1e-6, "M"
	default:
		scaled, suffix = f*1e-3, "K"
	}
	digits := strings.TrimLeft(strconv.FormatFloat(math.RoundToEven(scaled), 'f', 0, 64), "0")
	fix := max(2-len(digits), 0)
	return strconv.FormatFloat(scaled, 'f', fix, 64) + suffix
}

// loadGeneralInfo derives the authorship metadata as llama.cpp's Metadata.load does, from the
// model card (README.md front matter), config.json's _name_or_path and the folder name. A
// front matter that is not valid YAML is an error (ErrBadInput), as in llama.cpp.
func loadGeneralInfo(dir string, hp *hparams, totalParams int64) (generalInfo, error) {
	var g generalInfo
	card := map[string]any{}
	readme := filepath.Join(dir, "README.md")
	if b, err := os.ReadFile(readme); err == nil {
		text := strings.ReplaceAll(string(b), "- no\n", "- \"no\"\n")
		m, err := parseFrontMatter(text)
		if err != nil {
			return g, fmt.Errorf("%w: %s: front matter: %w", ErrBadInput, readme, err)
		}
		if m != nil {
			card = m
		}
	}
	use := func(dst *string, key string) {
		if *dst != "" {
			return
		}
		if v, ok := card[key]; ok {
			*dst = yamlString(v)
		}
	}
	for _, p := range []struct {
		dst  *string
		keys []string
	}{
		{&g.name, []string{"name", "model_name"}}, {&g.author, []string{"author", "model_author", "model_creator"}},
		{&g.version, []string{"version", "model_version"}}, {&g.organization, []string{"organization", "model_organization"}},
		{&g.description, []string{"description", "model_description"}}, {&g.finetune, []string{"finetune", "model_finetune"}},
		{&g.basename, []string{"basename", "model_basename", "model_type"}}, {&g.sizeLabel, []string{"size_label", "model_size_label"}},
		{&g.sourceURL, []string{"url", "model_url"}}, {&g.sourceDOI, []string{"doi", "model_doi"}},
		{&g.sourceUUID, []string{"uuid", "model_uuid"}}, {&g.sourceRepo, []string{"repo_url", "model_repo_url"}},
	} {
		for _, k := range p.keys {
			use(p.dst, k)
		}
	}
	if v, ok := firstKey(card, "base_model", "base_models", "base_model_sources"); ok {
		g.hasBaseModels = true
		for _, id := range yamlList(v) {
			g.baseModels = append(g.baseModels, sourceEntry(id, totalParams))
		}
	}
	if v, ok := firstKey(card, "datasets", "dataset", "dataset_sources"); ok {
		g.hasDatasets = true
		for _, id := range yamlList(v) {
			g.datasets = append(g.datasets, sourceEntry(id, totalParams))
		}
	}
	if v, ok := card["license"]; ok {
		if l, isList := v.([]any); isList {
			var parts []string
			for _, x := range l {
				parts = append(parts, yamlString(x))
			}
			g.license = strings.Join(parts, ",")
		} else {
			g.license = yamlString(v)
		}
	}
	use(&g.licenseName, "license_name")
	use(&g.licenseLink, "license_link")
	for _, k := range []string{"tags", "pipeline_tag"} {
		if v, ok := card[k]; ok && v != nil {
			g.tags = append(g.tags, yamlList(v)...)
		}
	}
	for _, k := range []string{"languages", "language"} {
		if v, ok := card[k]; ok && v != nil {
			g.languages = append(g.languages, yamlList(v)...)
		}
	}
	apply := func(id string) {
		full, org, base, ft, ver, size, _ := modelIDComponents(id, totalParams)
		if g.name == "" && full != "" {
			g.name = idToTitle(full)
		}
		if g.organization == "" && org != "" {
			g.organization = idToTitle(org)
		}
		if g.basename == "" {
			g.basename = base
		}
		if g.finetune == "" {
			g.finetune = ft
		}
		if g.version == "" {
			g.version = ver
		}
		if g.sizeLabel == "" {
			g.sizeLabel = size
		}
	}
	if n := hp.str("_name_or_path"); n != "" && strings.Count(n, "/") <= 1 {
		apply(n)
	}
	apply(filepath.Base(dir))
	if g.sizeLabel == "" && totalParams > 0 {
		g.sizeLabel = sizeLabel(totalParams)
	}
	return g, nil
}

func firstKey(m map[string]any, keys ...string) (any, bool) {
	for _, k := range keys {
		if v, ok := m[k]; ok && v != nil {
			return v, true
		}
	}
	return nil, false
}

func yamlString(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func yamlList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// sourceEntry describes a base model or dataset given by URL or Hugging Face id.
func sourceEntry(id string, totalParams int64) map[string]string {
	e := map[string]string{}
	hfID := id
	if strings.HasPrefix(id, "http://") || strings.HasPrefix(id, "https://") || strings.HasPrefix(id, "ssh://") {
		e["repo_url"] = id
		hfID = ""
		if strings.Contains(id, "huggingface.co") {
			if m := reHFURL.FindStringSubmatch(id); m != nil {
				hfID = m[1]
			}
		}
		if hfID == "" {
			return e
		}
	}
	full, org, _, _, ver, _, _ := modelIDComponents(hfID, totalParams)
	if full != "" {
		e["name"] = idToTitle(full)
	}
	if org != "" {
		e["organization"] = idToTitle(org)
	}
	if ver != "" {
		e["version"] = ver
	}
	if hfID == id && org != "" && full != "" {
		e["repo_url"] = "https://huggingface.co/" + org + "/" + full
	}
	return e
}

// write adds the authorship keys in llama.cpp's order (set_gguf_meta_model).
func (g generalInfo) write(md *mdBuilder) {
	for _, p := range []struct{ k, v string }{
		{"general.name", g.name}, {"general.author", g.author}, {"general.version", g.version},
		{"general.organization", g.organization}, {"general.finetune", g.finetune},
		{"general.basename", g.basename}, {"general.description", g.description},
		{"general.size_label", g.sizeLabel}, {"general.license", g.license},
		{"general.license.name", g.licenseName}, {"general.license.link", g.licenseLink},
		{"general.url", g.url}, {"general.doi", g.doi}, {"general.uuid", g.uuid},
		{"general.repo_url", g.repoURL}, {"general.source.url", g.sourceURL},
		{"general.source.doi", g.sourceDOI}, {"general.source.uuid", g.sourceUUID},
		{"general.source.repo_url", g.sourceRepo},
	} {
		md.str(p.k, p.v)
	}
	fields := []string{"name", "author", "version", "organization", "description", "url", "doi", "uuid", "repo_url"}
	if g.hasBaseModels {
		md.u32("general.base_model.count", len(g.baseModels))
		for i, e := range g.baseModels {
			for _, f := range fields {
				if v, ok := e[f]; ok {
					md.str(fmt.Sprintf("general.base_model.%d.%s", i, f), v)
				}
			}
		}
	}
	if g.hasDatasets {
		md.u32("general.dataset.count", len(g.datasets))
		for i, e := range g.datasets {
			for _, f := range fields {
				if v, ok := e[f]; ok {
					md.str(fmt.Sprintf("general.dataset.%d.%s", i, f), v)
				}
			}
		}
	}
	md.strs("general.tags", g.tags)
	md.strs("general.languages", g.languages)
}

// samplingKeys maps generation_config.json fields to llama.cpp's recommended-sampler keys and
// their GGUF types ('i' int32, 'f' float32, 's' string), in llama.cpp's order.
var samplingKeys = []struct {
	src, dst string
	typ      byte
}{
	{"sequence", "general.sampling.sequence", 's'},
	{"top_k", "general.sampling.top_k", 'i'},
	{"top_p", "general.sampling.top_p", 'f'},
	{"min_p", "general.sampling.min_p", 'f'},
	{"xtc_probability", "general.sampling.xtc_probability", 'f'},
	{"xtc_threshold", "general.sampling.xtc_threshold", 'f'},
	{"temperature", "general.sampling.temp", 'f'},
	{"penalty_last_n", "general.sampling.penalty_last_n", 'i'},
	{"penalty_repeat", "general.sampling.penalty_repeat", 'f'},
	{"mirostat", "general.sampling.mirostat", 'i'},
	{"mirostat_tau", "general.sampling.mirostat_tau", 'f'},
	{"mirostat_eta", "general.sampling.mirostat_eta", 'f'},
}

// samplingParams writes the sampler settings of generation_config.json (ignored when the file
// is absent or malformed, as llama.cpp does).
func samplingParams(md *mdBuilder, dir string) {
	gc, err := readJSONObject(filepath.Join(dir, "generation_config.json"), true)
	if err != nil || gc == nil {
		return
	}
	for _, s := range samplingKeys {
		v := gc.raw(s.src)
		if v == nil {
			continue
		}
		switch s.typ {
		case 's':
			if str, ok := v.(string); ok {
				md.str(s.dst, str)
			}
		case 'i':
			if i, ok := intOf(v); ok && i >= math.MinInt32 && i <= math.MaxInt32 {
				md.i32(s.dst, int(i))
			}
		case 'f':
			if f, ok := floatOf(v); ok {
				md.f32(s.dst, f)
			}
		}
	}
}
