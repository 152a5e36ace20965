package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/datasets"
)

func init() { register(newDatasetsCmd) }

// newDatasetsCmd is the `datasets` command group.
func newDatasetsCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "datasets",
		Short: "Look into training and evaluation data (text, JSONL, Parquet, Arrow, Hugging Face folders)",
		Long: `The datasets commands read the data files mcompress trains, calibrates and evaluates on:
plain text, JSON Lines, Parquet, Arrow IPC (file or stream) and Hugging Face dataset folders.`,
		Example: `  mcompress datasets inspect ./tinyshakespeare-hf --split validation -n 2
  mcompress datasets inspect chat.parquet --column messages --json`,
		// A parent command: a word that names no subcommand is an error (exit 2), not help.
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) > 0 {
				return badInput(fmt.Errorf("%s: unknown command %q; see '%s --help'", cmd.CommandPath(), a[0], cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newDatasetsInspectCmd(g))
	return cmd
}

// newDatasetsInspectCmd is `datasets inspect PATH`.
func newDatasetsInspectCmd(g *globalOptions) *cobra.Command {
	var (
		opts       datasets.Options
		n          int
		format     string
		textMode   string
		columns    []string
		textColumn string
	)
	cmd := &cobra.Command{
		Use:   "inspect PATH",
		Short: "Print a dataset's format, schema, row count, row groups, shards, splits and sample rows",
		Long: `inspect describes a data file or a Hugging Face dataset folder without loading it whole:
the format (sniffed from the bytes: Parquet, Arrow IPC file or stream, JSON Lines, JSON, text),
the columns and their types, the row count (from the Parquet footer where possible, else by
reading), the row groups or record batches of every shard, the splits of a folder (README.md
YAML configs, save_to_disk layout or file-name conventions) and the first N rows.`,
		Example: `  mcompress datasets inspect wikitext.parquet --column text --column line -n 3
  mcompress datasets inspect ./tinyshakespeare-hf --split validation
  mcompress datasets inspect train.arrow --json
  mcompress datasets inspect corpus.txt --text-mode paragraphs -n 2`,
		Args: wantArgs(1, 1, "the dataset file or folder"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Format, err = datasets.ParseFormat(format); err != nil {
				return badInput(err)
			}
			if opts.TextMode, err = datasets.ParseTextMode(textMode); err != nil {
				return badInput(err)
			}
			if n < 0 {
				return badInput(fmt.Errorf("-n %d: the number of sample rows cannot be negative", n))
			}
			opts.Columns = nil
			for _, c := range columns {
				for _, part := range strings.Split(c, ",") {
					if part = strings.TrimSpace(part); part != "" {
						opts.Columns = append(opts.Columns, part)
					}
				}
			}
			opts.TextColumn = textColumn
			info, err := datasets.Inspect(args[0], opts, n)
			if err != nil {
				return err
			}
			if g.json {
				info.Sample = jsonSafeSample(info.Sample)
				// Like printJSON, but keeps "list<struct<…>>" readable (no \u003c escapes).
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(info)
			}
			printInspect(cmd.OutOrStdout(), info)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Split, "split", "", "split of a dataset folder (default: train, else the first)")
	f.StringVar(&opts.Config, "config", "", "config_name of a dataset folder's README.md configs")
	f.StringArrayVar(&columns, "column", nil, "show only this column in the sample (repeatable, or comma-separated)")
	f.StringVar(&textColumn, "text-column", "", "column used as document text (default: text, content, messages, …)")
	f.IntVarP(&n, "rows", "n", 5, "number of sample rows to print")
	f.StringVar(&format, "format", "auto", "force a format: auto, text, jsonl, json, parquet, arrow, arrow-stream, hf")
	f.StringVar(&textMode, "text-mode", "whole", "how a text file is cut into records: whole, lines or paragraphs")
	return cmd
}

// printInspect writes the human-readable report.
func printInspect(w io.Writer, info *datasets.Info) {
	fmt.Fprintf(w, "path:     %s\n", info.Path)
	fmt.Fprintf(w, "format:   %s\n", info.Format)
	if info.Layout != nil {
		src := info.Layout.Source
		if info.Layout.Config != "" {
			src += fmt.Sprintf(", config %q of %s", info.Layout.Config, strings.Join(info.Layout.Configs, ", "))
		}
		fmt.Fprintf(w, "folder:   splits from %s\n", src)
		parts := make([]string, len(info.Splits))
		for i, s := range info.Splits {
			parts[i] = fmt.Sprintf("%s (%d %s, %d rows)", s.Name, s.Shards, plural(s.Shards, "shard", "shards"), s.Rows)
		}
		fmt.Fprintf(w, "splits:   %s\n", strings.Join(parts, ", "))
		fmt.Fprintf(w, "split:    %s\n", info.Split)
	}
	how := "counted by reading"
	if info.RowsFromMetadata {
		how = "from metadata"
	}
	fmt.Fprintf(w, "rows:     %d (%s)\n", info.Rows, how)
	fmt.Fprintf(w, "columns:  %d\n", len(info.Columns))
	width := 0
	for _, c := range info.Columns {
		width = max(width, len(c.Name))
	}
	for _, c := range info.Columns {
		mark := ""
		if c.Name == info.TextColumn {
			mark = "  (text)"
		}
		fmt.Fprintf(w, "  %-*s  %s%s\n", width, c.Name, c.Type, mark)
	}
	fmt.Fprintf(w, "shards:   %d\n", len(info.Shards))
	base := info.Path
	for _, s := range info.Shards {
		name := s.Path
		if rel, err := filepath.Rel(base, s.Path); err == nil && !strings.HasPrefix(rel, "..") && rel != "." {
			name = rel
		}
		fmt.Fprintf(w, "  %s  %s  %d bytes  %d rows\n", name, s.Format, s.Bytes, s.Rows)
		if len(s.RowGroups) > 0 {
			fmt.Fprintf(w, "    row groups: %d %s\n", len(s.RowGroups), int64List(s.RowGroups))
		}
		if len(s.Batches) > 0 {
			fmt.Fprintf(w, "    record batches: %d %s\n", len(s.Batches), int64List(s.Batches))
		}
		if len(s.Compression) > 0 {
			fmt.Fprintf(w, "    compression: %s\n", strings.Join(s.Compression, ", "))
		}
		if s.CreatedBy != "" {
			fmt.Fprintf(w, "    created by: %s\n", s.CreatedBy)
		}
		if len(s.Metadata) > 0 {
			fmt.Fprintf(w, "    metadata keys: %s\n", strings.Join(s.Metadata, ", "))
		}
	}
	if len(info.Sample) > 0 {
		fmt.Fprintf(w, "sample:   %d %s\n", len(info.Sample), plural(len(info.Sample), "row", "rows"))
		order := map[string]int{}
		for i, c := range info.Columns {
			order[c.Name] = i
		}
		for i, row := range info.Sample {
			keys := make([]string, 0, len(row))
			for k := range row {
				keys = append(keys, k)
			}
			sort.SliceStable(keys, func(a, b int) bool {
				oa, okA := order[keys[a]]
				ob, okB := order[keys[b]]
				if okA != okB {
					return okA
				}
				if oa != ob {
					return oa < ob
				}
				return keys[a] < keys[b]
			})
			fmt.Fprintf(w, "  [%d]\n", i)
			for _, k := range keys {
				fmt.Fprintf(w, "    %s: %s\n", k, shortValue(row[k], 160))
			}
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// int64List prints up to 12 numbers in brackets, eliding the middle of longer lists.
func int64List(v []int64) string {
	parts := make([]string, 0, len(v))
	for i, x := range v {
		if len(v) > 12 && i == 6 {
			parts = append(parts, "…")
		}
		if len(v) > 12 && i >= 6 && i < len(v)-5 {
			continue
		}
		parts = append(parts, fmt.Sprint(x))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// shortValue renders a field value as JSON, cut to about limit characters.
func shortValue(v any, limit int) string {
	b, err := json.Marshal(jsonSafe(v))
	s := string(b)
	if err != nil {
		s = fmt.Sprint(v)
	}
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "…"
	}
	return s
}

// jsonSafeSample replaces values JSON cannot encode (NaN, ±Inf) in the sample rows.
func jsonSafeSample(rows []map[string]any) []map[string]any {
	for _, row := range rows {
		for k, v := range row {
			row[k] = jsonSafe(v)
		}
	}
	return rows
}

// jsonSafe returns v with NaN and infinities turned into their string names.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
	case []any:
		for i := range x {
			x[i] = jsonSafe(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = jsonSafe(x[k])
		}
	}
	return v
}
