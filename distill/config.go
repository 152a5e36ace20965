package distill

import (
	"fmt"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/surgery"
)

// ConfigOverrides change the dimensions of a student's configuration; zero fields keep the
// base value. They are surgery.Overrides (Apply, ApplyValid, IsZero), named here for
// StudentOptions.
type ConfigOverrides = surgery.Overrides

// ReadHFConfig reads a student's Hugging Face config.json (a file, or a folder holding one) on
// top of base with convert.ReadHFConfig, the one reader of config.json: keys present replace
// base's values, absent ones keep them, so a student config may give only the dimensions it
// changes. It refuses what a new student cannot start with: RoPE scaling other than linear
// with a positive factor (a model folder that has it can be loaded as the student instead).
// Errors wrap ErrBadInput.
func ReadHFConfig(path string, base convert.Config) (convert.Config, error) {
	c, err := convert.ReadHFConfig(path, base)
	if err != nil {
		return base, fmt.Errorf("distill: %w: student config: %w", ErrBadInput, err)
	}
	if err := checkStudentRoPE(c); err != nil {
		return base, badInputf("student config %s: %v", path, err)
	}
	return c, nil
}

// checkStudentRoPE reports RoPE scaling a student built from a configuration cannot have.
func checkStudentRoPE(c convert.Config) error {
	switch rs := c.RopeScaling; {
	case rs.Type == "":
	case rs.Type == "linear" && rs.Factor > 0:
	case rs.Type == "linear":
		return fmt.Errorf("rope_scaling factor %g must be positive", rs.Factor)
	default:
		return fmt.Errorf("rope_scaling type %q is not supported for a new student (use a model folder that has it)", rs.Type)
	}
	return nil
}
