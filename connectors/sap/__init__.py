"""SAP connector (ECC/S/4 over RFC, S/4HANA over OData V2): a placeholder for its package; the
sandbox (`sandbox/`) is the fake SAP system it is tested against."""
