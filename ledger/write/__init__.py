"""The write path (placeholder)."""
