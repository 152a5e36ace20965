package tokenizer
import ("testing";"time";"math/rand/v2";"fmt";"os"
 "github.com/mcompress/mcompress/convert/gguf")
func TestZZSlow(t *testing.T){
 seeds := [][]byte{}
 f:=&testing.F{}
 _ = f
 var mk = func(md gguf.Metadata) []byte { var b []byte; bw := &bufw{&b}; w,_:=gguf.NewWriter(bw,md,nil); w.Close(); return b }
 seeds = append(seeds, mk(spmMeta(spmPieces(piece{"▁a", -1, 0}, piece{"<|im_end|>", 0, typeControl}))))
 seeds = append(seeds, mk(bpeVocab{merges: []string{"a b", "Ġ ab"}, specials: []piece{{"<x>", 0, typeUserDefined}}}.meta("gpt-2")))
 seeds = append(seeds, mk(bpeVocab{merges: []string{"a b"}}.meta("deepseek-llm")))
 r:=rand.New(rand.NewPCG(5,6))
 for it:=0; it<3000; it++{
   s:=append([]byte(nil), seeds[r.IntN(len(seeds))]...)
   for k:=0;k<1+r.IntN(4);k++{ s[r.IntN(len(s))] = byte(r.IntN(256)) }
   done:=make(chan bool)
   go func(){
     g,err:=gguf.Parse(s); if err==nil { if tok,err:=FromGGUF(g.Metadata); err==nil { exerciseTokenizer(t,tok) } }
     close(done)
   }()
   select { case <-done: case <-time.After(5*time.Second): os.WriteFile("/tmp/slow.gguf", s, 0644); fmt.Println("SLOW", it); t.Fatal("slow") }
 }
}
type bufw struct{ b *[]byte }
func (w *bufw) Write(p []byte)(int,error){ *w.b = append(*w.b, p...); return len(p), nil }
