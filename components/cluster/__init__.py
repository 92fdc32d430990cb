"""Cluster placement: where each task's pod runs (image, resources, scheduling, secrets, security), described once
for every orchestrator adapter. Standard library only (plus the config dataclasses)."""
