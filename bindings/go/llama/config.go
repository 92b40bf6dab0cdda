package llama

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Config holds the numbers of a checkpoint's config.json that the model needs.
type Config struct {
	VocabSize, HiddenSize, IntermediateSize, NumLayers, NumHeads, NumKVHeads, HeadDim int64
	MaxPositions                                                                      int64
	RMSNormEps, RopeTheta                                                             float64
	TieWordEmbeddings                                                                 bool
}

// ReadConfig reads folder/config.json as transformers' save_pretrained writes it, with
// LlamaConfig's defaults for what it leaves out.
func ReadConfig(folder string) (Config, error) {
	path := filepath.Join(folder, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var f struct {
		VocabSize        *int64   `json:"vocab_size"`
		HiddenSize       *int64   `json:"hidden_size"`
		IntermediateSize *int64   `json:"intermediate_size"`
		NumLayers        *int64   `json:"num_hidden_layers"`
		NumHeads         *int64   `json:"num_attention_heads"`
		NumKVHeads       *int64   `json:"num_key_value_heads"`
		HeadDim          *int64   `json:"head_dim"`
		MaxPositions     *int64   `json:"max_position_embeddings"`
		RMSNormEps       *float64 `json:"rms_norm_eps"`
		RopeTheta        *float64 `json:"rope_theta"` // older files
		RopeParameters   struct {
			RopeTheta *float64 `json:"rope_theta"` // newer ones
		} `json:"rope_parameters"`
		TieWordEmbeddings *bool `json:"tie_word_embeddings"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	for key, v := range map[string]*int64{"vocab_size": f.VocabSize, "hidden_size": f.HiddenSize,
		"intermediate_size": f.IntermediateSize, "num_hidden_layers": f.NumLayers,
		"num_attention_heads": f.NumHeads, "max_position_embeddings": f.MaxPositions} {
		if v == nil {
			return Config{}, fmt.Errorf("%s has no number %q", path, key)
		}
	}
	c := Config{VocabSize: *f.VocabSize, HiddenSize: *f.HiddenSize, IntermediateSize: *f.IntermediateSize,
		NumLayers: *f.NumLayers, NumHeads: *f.NumHeads, NumKVHeads: *f.NumHeads, MaxPositions: *f.MaxPositions,
		RMSNormEps: 1e-6, RopeTheta: 10000, TieWordEmbeddings: true}
	if c.NumHeads <= 0 {
		return Config{}, fmt.Errorf("%s: num_attention_heads must be positive", path)
	}
	c.HeadDim = c.HiddenSize / c.NumHeads
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.NumKVHeads, f.NumKVHeads)
	set(&c.HeadDim, f.HeadDim)
	for _, v := range []*float64{f.RopeTheta, f.RopeParameters.RopeTheta} {
		if v != nil {
			c.RopeTheta = *v
		}
	}
	if f.RMSNormEps != nil {
		c.RMSNormEps = *f.RMSNormEps
	}
	if f.TieWordEmbeddings != nil {
		c.TieWordEmbeddings = *f.TieWordEmbeddings
	}
	return c, nil
}
