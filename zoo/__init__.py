"""Zoo entries (one folder per model: config.json, MODEL_CARD.md, weights); read by tfar.zoo."""
