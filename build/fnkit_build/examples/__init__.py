"""Factories of the shipped example models (`digits`, `minilm`), named in models.toml."""
