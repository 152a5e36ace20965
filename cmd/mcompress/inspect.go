package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/convert"
)

func init() { register(newInspectCmd) }

// newInspectCmd is `inspect PATH`: metadata and tensor table of a model file or folder.
func newInspectCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect PATH",
		Short: "Show the metadata and tensors of a GGUF file, a safetensors file or a Hugging Face folder",
		Long: `inspect reads the header of a model (tensor data are not read): a GGUF file (metadata in file
order with long arrays such as the vocabulary summarized, then name, type, shape and size of
every tensor, GGUF dimensions with the row length first), a safetensors file (its __metadata__
and tensors in PyTorch shape order) or a Hugging Face checkpoint folder (config.json and the
tensors of every shard). With --json the same report is printed as JSON, including the model
configuration mcompress derives when the architecture is supported.`,
		Example: `  mcompress inspect model-f16.gguf
  mcompress inspect ./Llama-3.2-1B --json
  mcompress inspect model.safetensors`,
		Args: wantArgs(1, 1, "the model file or folder"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := convert.Inspect(args[0])
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(r)
			}
			return r.WriteText(os.Stdout)
		},
	}
}
