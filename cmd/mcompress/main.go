// Command mcompress turns Hugging Face language-model checkpoints into small, fast, on-device
// GGUF models: convert, quantize, prune, distill, run and evaluate them, one stage a command.
//
// Each command is a thin layer over its stage package: it parses flags, calls one function and
// prints. See README.md for a tour.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	quiet bool // no progress and no log lines, only results and errors
	json  bool // machine-readable output on stdout
}

// commandFactories holds one constructor per command file; each file registers its own in init.
var commandFactories []func(*globalOptions) *cobra.Command

// register adds a command constructor; called from init in each command's file.
func register(f func(*globalOptions) *cobra.Command) { commandFactories = append(commandFactories, f) }

func newRootCmd() (*cobra.Command, *globalOptions) {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "mcompress",
		Short: "Compress language models for on-device use: convert, quantize, prune, distill, run, evaluate",
		Long: `mcompress turns Hugging Face checkpoints into small, fast GGUF models that llama.cpp and
ollama load, and measures what each step cost and saved.`,
		Example: `  mcompress convert ./Llama-3.2-1B --outtype f16 -o llama-f16.gguf
  mcompress quantize --bits 4 llama-f16.gguf -o llama-q4.gguf
  mcompress eval --model llama-f16.gguf --model llama-q4.gguf --data valid.txt --report out/`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	v := buildVersion()
	root.Version = v.Version // enables --version, which prints the same report as `version`
	root.SetVersionTemplate(strings.ReplaceAll(v.String(), "{{", `{{"{{"}}`))
	root.SetFlagErrorFunc(flagError)
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "print only results and errors (no progress)")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print machine-readable JSON on stdout")
	for _, f := range commandFactories {
		root.AddCommand(f(g))
	}
	return root, g
}

func main() { os.Exit(run(os.Args[1:])) }

// run executes the CLI with args and returns the process exit code.
func run(args []string) int {
	root, _ := newRootCmd()
	root.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, root.Name()+" ") { // a message naming its command already
			msg = root.Name() + ": " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
	}
	return exitCode(err)
}
