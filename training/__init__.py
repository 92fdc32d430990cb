"""GPT-NeoX pretraining: presets, the DeepSpeed training loop, data, checkpoints, export and launchers."""
