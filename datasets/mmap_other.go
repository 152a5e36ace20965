//go:build !unix

package datasets

import (
	"fmt"
	"os"
)

// mapFile reads the whole file at path into memory (no mmap on this platform).
func mapFile(path string) (data []byte, unmap func() error, err error) {
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %w", err)
	}
	return data, func() error { return nil }, nil
}
