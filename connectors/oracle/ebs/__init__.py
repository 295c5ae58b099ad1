"""The EBS flavor: tables, engine, statements and records."""
