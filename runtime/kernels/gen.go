package kernels

//go:generate go run ./asm/main.go -out kernels_amd64.s -stubs kernels_stubs_amd64.go -pkg kernels
