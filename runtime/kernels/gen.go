package kernels

//go:generate go run ./asm -out kernels_amd64.s -stubs kernels_stubs_amd64.go -pkg kernels
