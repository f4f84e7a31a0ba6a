"""Terraform state as a source of baselines: reading state files, parsing them, mapping them to documents."""
