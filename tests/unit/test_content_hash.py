"""The content hash's form is fixed by its version (rule 2): a faster computation of it must
give the very same digests, or every stored line would look changed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from pmo_ledger.ledger.records import ActualRecord
from pmo_ledger.ledger.write.hashing import HASH_VERSION, content_hash


def _record(**kw: object) -> ActualRecord:
    base: dict[str, object] = {
        "external_id": "ACT-1",
        "project_ref": "PRJ-0039",
        "posted_on": date(2025, 6, 28),
        "cost_type": "labor",
        "task_ref": "PRJ-0039.T03",
        "resource_ref": "RES-0030",
        "currency": "EUR",
        "amount": Decimal("786.63"),
        "hours": Decimal("7.25"),
        "description": "Timecard Chloe Moreau",
        "source_modified_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    base.update(kw)
    return ActualRecord(**base)  # type: ignore[arg-type]


def test_digest_of_version_1_is_pinned() -> None:
    """Hash version 1 of a sample timecard is this digest, computed twice (remembered values)."""
    assert HASH_VERSION == 1
    expected = "2d3f788f55549a9032e1a3d3a86024c4cc299965"
    assert content_hash(_record()) == expected
    assert content_hash(_record()) == expected


def test_equal_decimals_hash_alike_and_signed_zeros_apart() -> None:
    """1.10 and 1.1 hash alike, also once remembered; 0 and -0 stay apart (as they always were)."""
    assert content_hash(_record(amount=Decimal("1.10"))) == content_hash(
        _record(amount=Decimal("1.1"))
    )
    zero = content_hash(_record(amount=Decimal("0.00")))
    negative_zero = content_hash(_record(amount=Decimal("-0.00")))
    assert zero == content_hash(_record(amount=Decimal("0")))
    assert zero != negative_zero
    assert negative_zero == content_hash(_record(amount=Decimal("-0")))


def test_change_time_is_not_content() -> None:
    """Only source_modified_at changing keeps the digest; the day or amount changing does not."""
    one = content_hash(_record())
    assert content_hash(_record(source_modified_at=datetime(2027, 1, 1, tzinfo=UTC))) == one
    assert content_hash(_record(posted_on=date(2025, 6, 29))) != one
    assert content_hash(_record(amount=Decimal("786.64"))) != one


def _plain_hash(record: ActualRecord) -> str:
    """Hash version 1 as it was first written: every value through one canonical function."""
    import hashlib
    from dataclasses import fields

    def canon(value: object) -> str:
        if value is None:
            return "\x00"
        if isinstance(value, Decimal):
            return format(value.normalize(), "f") if value.is_finite() else str(value)
        if isinstance(value, datetime | date):
            return value.isoformat()
        return str(value)

    parts = [type(record).__name__]
    parts += [
        v if type(v) is str else canon(v)
        for v in (getattr(record, f.name) for f in fields(record))
        if v is not record.source_modified_at
    ]
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=20).hexdigest()


def test_compiled_hash_matches_the_plain_form_for_odd_values() -> None:
    """The compiled hash (and its remembered texts) gives the plain form's digest for every
    kind of value a record may carry before validation, twice (the second time remembered)."""
    odd: list[dict[str, object]] = [
        {"amount": Decimal(text)}
        for text in (
            "1.10", "1.1", "10", "100", "1E+2", "1.0E+3", "0.0000001", "-0", "0E-5", "-0.00",
            "12345678901234567890123456789012345", "1234567890123456789012345.5", "-786.630",
            "NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "00012.500",
        )
    ]  # fmt: skip
    odd += [
        {"posted_on": datetime(2025, 6, 28, 10, 30, tzinfo=UTC)},
        {"posted_on": "2025-06-28"},
        {"posted_on": None},
        {"hours": 7},
        {"hours": True},
        {"hours": 7.25},
        {"hours": 1e16},
        {"description": None, "role": "PM", "period": "2025-06"},
        {"external_id": "tab\tnew\nline\\"},
    ]
    for kw in odd:
        record = _record(**kw)
        try:
            expected = _plain_hash(record)
        except TypeError:
            continue
        assert content_hash(record) == expected, kw
        assert content_hash(record) == expected, kw  # remembered
