"""The Adobe Workfront connector (a placeholder: the connector itself is written on its own
branch; `sandbox/` here is the fake Workfront it is tested against)."""
