// Command llama generates text with the small character-level Llama of tests/fixtures/llama from
// Go: the model of package llama (modules whose forwards are Go functions) loads the Hugging Face
// checkpoint and generates with a KV cache, greedily and then sampled (temperature 0.8, top-k 10).
//
//	usage: llama [checkpoint folder] [prompt] [new tokens]
//
// (defaults: $INFER_LLAMA_DIR or ../../../../tests/fixtures/llama/untied; "A tensor "; 55)
//
// vocab.txt lists each id's Unicode code point, one per line; a real model would use its
// tokenizer to turn text into ids and back, and nothing else here would change.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	infer "github.com/libinfer/infer-go"
	"github.com/libinfer/infer-go/llama"
)

func readVocab(folder string) ([]rune, error) {
	data, err := os.ReadFile(filepath.Join(folder, "vocab.txt"))
	if err != nil {
		return nil, err
	}
	var vocab []rune
	for _, line := range strings.Fields(string(data)) {
		cp, err := strconv.Atoi(line)
		if err != nil {
			return nil, fmt.Errorf("vocab.txt: %w", err)
		}
		vocab = append(vocab, rune(cp))
	}
	return vocab, nil
}

func run() error {
	folder := os.Getenv("INFER_LLAMA_DIR")
	if folder == "" {
		folder = filepath.Join("..", "..", "..", "..", "tests", "fixtures", "llama", "untied")
	}
	prompt, n := "A tensor ", 55 // 64 positions with the prompt, as in training
	args := os.Args[1:]
	if len(args) > 0 {
		folder = args[0]
	}
	if len(args) > 1 {
		prompt = args[1]
	}
	if len(args) > 2 {
		var err error
		if n, err = strconv.Atoi(args[2]); err != nil {
			return err
		}
	}
	vocab, err := readVocab(folder)
	if err != nil {
		return err
	}
	var ids []int64
	for _, r := range prompt {
		id := slices.Index(vocab, r)
		if id < 0 {
			return fmt.Errorf("the prompt's character %q is not in the vocabulary", r)
		}
		ids = append(ids, int64(id))
	}
	decode := func(ids []int64) string {
		var b strings.Builder
		for _, id := range ids {
			b.WriteRune(vocab[id])
		}
		return b.String()
	}

	m, err := llama.Load(folder)
	if err != nil {
		return err
	}
	defer m.Close()
	c := m.Config()
	fmt.Printf("loaded %s: %d layers, hidden %d, %d query / %d k/v heads, tied embeddings: %v\n",
		folder, c.NumLayers, c.HiddenSize, c.NumHeads, c.NumKVHeads, c.TieWordEmbeddings)
	start := time.Now()
	greedy, err := m.Generate(ids, n, 0, 0)
	if err != nil {
		return err
	}
	fmt.Printf("greedy:  %q\n         %.0f tokens/s\n", prompt+decode(greedy), float64(n)/time.Since(start).Seconds())
	infer.ManualSeed(7)
	sampled, err := m.Generate(ids, n, 0.8, 10)
	if err != nil {
		return err
	}
	fmt.Printf("sampled: %q\n         temperature 0.8, top-k 10, seed 7\n", prompt+decode(sampled))
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
