package autograd

// MatMul returns op(a)·op(b), where op(x) is x or, when the flag is set, x with its last two
// dimensions swapped. a is [batch..., M, K] (or [batch..., K, M] with transA); b is either
// [batch..., K, N] with the same batch dimensions, or [K, N] shared by every batch element (a
// weight); transB reads b as [..., N, K]. The result is [batch..., M, N].
//
// A linear layer with Hugging Face weights W [out, in] is MatMul(tp, x, W, false, true).
func MatMul[T Float](tp *Tape[T], a, b *Tensor[T], transA, transB bool) *Tensor[T] {
	shape, ok := tp.validate(opMatMul, matMulAttr{transA, transB}, a, b)
	if !ok {
		return nil
	}
	op := &matMulOp[T]{a: a, b: b, transA: transA, transB: transB}
	op.dims(shape)
	out := tp.newTensor(shape, false)
	op.forward(tp, out)
	tp.record(opMatMul, op, out, a, b)
	return out
}

// matMulOp is a recorded MatMul.
type matMulOp[T Float] struct {
	a, b           *Tensor[T]
	transA, transB bool
	batch          int  // number of products
	m, n, k        int  // each product is (m×k)·(k×n)
	shared         bool // b has no batch dimensions
}

// dims derives the GEMM sizes from the output shape. When b is shared and a is not
// transposed, the batch folds into the rows of one product.
func (op *matMulOp[T]) dims(out []int) {
	r := len(out)
	op.m, op.n = out[r-2], out[r-1]
	ra := len(op.a.Shape)
	op.k = op.a.Shape[ra-1]
	if op.transA {
		op.k = op.a.Shape[ra-2]
	}
	op.batch = 1
	for _, d := range out[:r-2] {
		op.batch *= d
	}
	op.shared = len(op.b.Shape) == 2
	if op.shared && !op.transA {
		op.m *= op.batch
		op.batch = 1
	}
}

// strides of one product inside a, b and the output.
func (op *matMulOp[T]) strides() (sa, sb, sc int) {
	sa, sc = op.m*op.k, op.m*op.n
	if !op.shared {
		sb = op.k * op.n
	}
	return
}

// lds returns the leading dimensions of the stored a and b.
func (op *matMulOp[T]) lds() (lda, ldb int) {
	lda, ldb = op.k, op.n
	if op.transA {
		lda = op.m
	}
	if op.transB {
		ldb = op.k
	}
	return
}

func (op *matMulOp[T]) forward(tp *Tape[T], out *Tensor[T]) {
	sa, sb, sc := op.strides()
	lda, ldb := op.lds()
	for i := 0; i < op.batch; i++ {
		gemm(tp.threads(), op.transA, op.transB, op.m, op.n, op.k, 1,
			op.a.Data[i*sa:], lda, op.b.Data[i*sb:], ldb, 0, out.Data[i*sc:], op.n)
	}
}

func (op *matMulOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	sa, sb, sc := op.strides()
	lda, ldb := op.lds()
	m, n, k := op.m, op.n, op.k
	dc := out.Grad
	if da := tp.grad(op.a); da != nil {
		for i := 0; i < op.batch; i++ {
			g, bb, d := dc[i*sc:], op.b.Data[i*sb:], da[i*sa:]
			if !op.transA {
				// dA (m×k) += dC · op(B)ᵀ
				gemm(tp.threads(), false, !op.transB, m, k, n, 1, g, n, bb, ldb, 1, d, lda)
			} else {
				// dA (k×m) += op(B) · dCᵀ
				gemm(tp.threads(), op.transB, true, k, m, n, 1, bb, ldb, g, n, 1, d, lda)
			}
		}
	}
	if db := tp.grad(op.b); db != nil {
		for i := 0; i < op.batch; i++ {
			g, aa, d := dc[i*sc:], op.a.Data[i*sa:], db[i*sb:]
			if !op.transB {
				// dB (k×n) += op(A)ᵀ · dC
				gemm(tp.threads(), !op.transA, false, k, n, m, 1, aa, lda, g, n, 1, d, ldb)
			} else {
				// dB (n×k) += dCᵀ · op(A)
				gemm(tp.threads(), true, op.transA, n, k, m, 1, g, n, aa, lda, 1, d, ldb)
			}
		}
	}
}
