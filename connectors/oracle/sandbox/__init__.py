"""Stand-ins for Oracle: an EBS-shaped schema of the project's own (`ebs`, `seed`, `mutate`,
`run`) and the Fusion Cloud fake (`fusion_server`). Imported only by
`OracleConnector.sandbox()`, tests and benchmarks: the connector's read path never loads them."""
