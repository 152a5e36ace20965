package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"text/tabwriter"
)

// writeBench prints to stdout bench's results in format (one of benchFormats): "table" aligns the human
// cells, "md" makes them a Markdown table, "json" and "jsonl" encode rows (a slice of structs)
// as one array or one object per line, and "csv" writes rows' JSON fields with their JSON names
// as the header, as llama-bench does.
func writeBench(format string, rows any, header []string, cells [][]string) error {
	w := os.Stdout
	switch format {
	case "json":
		return printJSON(rows)
	case "jsonl":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		v := reflect.ValueOf(rows)
		for i := range v.Len() {
			if err := enc.Encode(v.Index(i).Interface()); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		return writeBenchCSV(w, rows)
	case "md":
		line := func(c []string) { fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | ")) }
		line(header)
		sep := make([]string, len(header))
		for i := range sep {
			sep[i] = "---:"
		}
		line(sep)
		for _, c := range cells {
			line(c)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, c := range cells {
		fmt.Fprintln(tw, strings.Join(c, "\t")+"\t")
	}
	return tw.Flush()
}

// writeBenchCSV writes rows (a slice of structs) as CSV: a header of the fields' JSON names, then
// one record per row; slice fields are space-separated values in one cell.
func writeBenchCSV(w io.Writer, rows any) error {
	v := reflect.ValueOf(rows)
	t := v.Type().Elem()
	cw := csv.NewWriter(w)
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	if err := cw.Write(names); err != nil {
		return err
	}
	for i := range v.Len() {
		var rec []string
		for j := range t.NumField() {
			f := v.Index(i).Field(j)
			if f.Kind() == reflect.Slice {
				parts := make([]string, f.Len())
				for k := range parts {
					parts[k] = fmt.Sprint(f.Index(k).Interface())
				}
				rec = append(rec, strings.Join(parts, " "))
				continue
			}
			rec = append(rec, fmt.Sprint(f.Interface()))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
