"""Pieces shared by every Dativo tap and target (errors, CLI entry wrapper)."""
