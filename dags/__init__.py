"""Airflow DAG files: a package so they ship with shoprec (`Settings.dags`, the local Airflow's dags_folder)."""
