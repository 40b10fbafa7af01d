"""Airflow integration: the operator every DAG task uses, the lake's Assets, the local Airflow stack."""
