"""The model registry: the promotion gate with promote / rollback, and the model card."""
