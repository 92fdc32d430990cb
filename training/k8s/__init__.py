"""Pretraining on Kubernetes: Kubeflow Trainer TrainJob / legacy PyTorchJob specs, validation, submit and watch."""
