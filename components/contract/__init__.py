"""The stage contract and its runners: the stage graph, configuration, manifests and storage, content addresses,
the execution of one stage, the local runner, lineage in MLflow. Import-light: the Airflow environment imports
`graph` and `config` from here."""
