package atomicfile

import (
	"os"
	"sync"
)

// pending holds the temporary files not yet committed or aborted, so that RemovePending can
// delete them when the process is interrupted.
var pending sync.Map

func track(name string)   { pending.Store(name, struct{}{}) }
func untrack(name string) { pending.Delete(name) }

// RemovePending deletes every temporary file that is neither committed nor aborted. The CLI calls
// it on a second interrupt or a fatal exit so that Ctrl-C never leaves half-written files.
func RemovePending() {
	pending.Range(func(k, _ any) bool {
		os.Remove(k.(string))
		pending.Delete(k)
		return true
	})
}
