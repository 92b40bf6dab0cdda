package llama

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	infer "github.com/libinfer/infer-go"
)

// The checkpoints of tests/fixtures/llama, trained and saved by tests/reference/llama_tiny.py with
// transformers' LlamaForCausalLM, and what transformers computed on them (expected.json).
func fixture(name string) string {
	return filepath.Join("..", "..", "..", "tests", "fixtures", "llama", name)
}

type expected struct {
	PromptIDs    []int64   `json:"prompt_ids"`
	GreedyIDs    []int64   `json:"greedy_ids"`
	PromptLogits []float32 `json:"prompt_logits"`
}

func load(t *testing.T, name string) (*Model, expected) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixture(name), "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	m, err := Load(fixture(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if m.Config().TieWordEmbeddings != (name == "tied") {
		t.Fatalf("%s: tie_word_embeddings read as %v", name, m.Config().TieWordEmbeddings)
	}
	return m, e
}

// Greedy tokens generated with the KV cache equal transformers' generate(), and the prompt's logits
// match to 1e-4, for a tied and an untied checkpoint.
func TestMatchesTransformers(t *testing.T) {
	for _, name := range []string{"tied", "untied"} {
		t.Run(name, func(t *testing.T) {
			m, e := load(t, name)
			got, err := m.Generate(e.PromptIDs, len(e.GreedyIDs), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(e.GreedyIDs) == 0 || !slices.Equal(got, e.GreedyIDs) {
				t.Fatalf("greedy tokens %v, transformers %v", got, e.GreedyIDs)
			}
			err = infer.WithInferenceMode(func() error {
				logits, err := m.Logits(e.PromptIDs)
				if err != nil {
					return err
				}
				defer logits.Close()
				v, err := logits.Float32s()
				if err != nil {
					return err
				}
				if len(v) != len(e.PromptLogits) {
					t.Fatalf("%d logits, transformers %d", len(v), len(e.PromptLogits))
				}
				for i := range v {
					if d := math.Abs(float64(v[i] - e.PromptLogits[i])); !(d <= 1e-4) {
						t.Fatalf("logit %d is %v, transformers %v", i, v[i], e.PromptLogits[i])
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Sampling draws from the seeded generator within the top k; top-k 1 is greedy.
func TestSampling(t *testing.T) {
	m, e := load(t, "untied")
	gen := func(seed uint64, temperature float64, topK int64) []int64 {
		infer.ManualSeed(seed)
		out, err := m.Generate(e.PromptIDs, 24, temperature, topK)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if !slices.Equal(gen(7, 0.8, 10), gen(7, 0.8, 10)) {
		t.Fatal("the same seed drew different tokens")
	}
	if !slices.Equal(gen(7, 0.8, 1), e.GreedyIDs[:24]) {
		t.Fatal("top-k 1 is not greedy")
	}
}

// What the model refuses: a checkpoint of another shape, and more positions than the cache holds.
func TestRefusals(t *testing.T) {
	cfg, err := ReadConfig(fixture("untied"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.IntermediateSize++
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.Module.LoadSafetensors(filepath.Join(fixture("untied"), "model.safetensors"), true)
	if !errors.Is(err, infer.StatusShape) {
		t.Fatalf("loading into the wrong shape: %v", err)
	}

	m, _ = load(t, "untied")
	long := make([]int64, m.Config().MaxPositions)
	if _, err := m.Generate(long, 2, 0, 0); !errors.Is(err, infer.StatusInvalidArgument) {
		t.Fatalf("generating past max_position_embeddings: %v", err)
	}
	if _, err := ReadConfig(t.TempDir()); err == nil {
		t.Fatal("a folder without config.json was read")
	}
}
