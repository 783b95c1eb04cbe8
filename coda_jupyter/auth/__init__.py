"""Databricks identity: credentials and rotation, owner resolution, AI Gateway discovery."""
