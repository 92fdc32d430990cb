"""Pipeline stages and the contracts they share. Pure Python: never imports kfp or airflow.

Kept import-light on purpose: the Airflow environment imports `components.contract.graph` (and the config and placement modules) from here.
"""
__version__ = "0.1.0"
