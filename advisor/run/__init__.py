"""Executing the choice: a full run of one engine (classification or retrieval) and the plan file that names it."""
