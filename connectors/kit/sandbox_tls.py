"""A private CA and a server certificate for the sandboxes (the fake Salesforce and Workfront
servers), made with trustme.

simple-salesforce builds every URL with https, and a Workfront base URL is https too, so the
sandboxes speak TLS. A client trusts it through the CA file (`ca.pem`: requests' `verify=`,
the connector's `ca_bundle`). The server certificate is signed by that CA rather than
self-signed, so strict verifiers (which refuse a leaf used as its own trust anchor) accept it
too; its names are IP 127.0.0.1 and DNS localhost. trustme makes both (EC P-256 keys: quick to
make, so each test may have its own); this module only writes them to files and loads them
into a server context.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme

#: How long the server certificate is valid (a `cert_dir` keeps it across restarts).
_VALID_FOR = timedelta(days=825)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The PEM files: the CA to trust, the server certificate (with its CA) and its key."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context with the certificate loaded."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def load_or_create(directory: Path) -> TlsFiles:
    """The certificate files in `directory`, made there first if any is missing (so a CA file
    configured once stays valid across restarts of the sandbox)."""
    directory = directory.resolve()
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    if not all(p.is_file() for p in (files.ca_file, files.cert_file, files.key_file)):
        directory.mkdir(parents=True, exist_ok=True)
        _create(files)
    return files


def _create(files: TlsFiles) -> None:
    ca = trustme.CA(organization_name="pmo-ledger sandbox")
    now = datetime.now(UTC) - timedelta(minutes=5)
    leaf = ca.issue_cert(
        "127.0.0.1",
        "localhost",
        common_name="127.0.0.1",
        organization_name="pmo-ledger sandbox",
        not_before=now,
        not_after=now + _VALID_FOR,
    )
    ca.cert_pem.write_to_path(str(files.ca_file))
    files.cert_file.write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
    files.key_file.touch(mode=0o600)
    leaf.private_key_pem.write_to_path(str(files.key_file))
    files.key_file.chmod(0o600)
