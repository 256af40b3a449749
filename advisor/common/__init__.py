"""Foundations every stage shares: number and table formatting, engines' capability flags by name, bootstrap intervals."""
