from __future__ import annotations

import pyarrow as pa

from exchange.formats import mask_credit_code, mask_generic, mask_name, mask_phone, mask_resident_id


def test_mask_resident_id() -> None:
    values = ["61090219900101101X", "110105491231002", "abc", "ab", "a", "", None]
    assert mask_resident_id(values).to_pylist() == [
        "610902**********1X", "110************", "a**", "a*", "*", "", None]


def test_mask_phone() -> None:
    assert mask_phone(["13812345678", "010-12345678", "0755-1234567", "12345", "12", None]).to_pylist() == [
        "138****5678", "********5678", "********4567", "***45", "*2", None]


def test_mask_name() -> None:
    assert mask_name(["张三", "欧阳修", "欧阳修文", "张", "John Smith", None]).to_pylist() == [
        "张*", "欧**", "欧***", "张", "J*********", None]


def test_mask_credit_code() -> None:
    assert mask_credit_code(["91110000600037341L", "9111", None]).to_pylist() == [
        "91110000**********", "91**", None]


def test_mask_generic() -> None:
    assert mask_generic(["abc", "abcdef", "ab", "a", "", "中华人民共和国", None]).to_pylist() == [
        "a*c", "a****f", "**", "*", "", "中*****国", None]


def test_masking_keeps_length_and_type() -> None:
    values = pa.chunked_array([["13812345678", None], ["x" * 50]])
    for fn in (mask_resident_id, mask_phone, mask_name, mask_credit_code, mask_generic):
        result = fn(values)
        assert isinstance(result, pa.StringArray)
        assert len(result) == 3
        assert result[1].as_py() is None
        assert len(result[2].as_py()) == 50


def test_redact_masks_secrets_then_identifiers() -> None:
    from exchange.formats.masking import redact

    text = ("cannot cast '61090219900101123X' for postgresql://etl:s3cret@db/wh?token=abc123 "
            "(phone 13812345678)")
    shown = redact(text)
    assert "s3cret" not in shown and "abc123" not in shown and "61090219900101123X" not in shown
    assert "610902**********3X" in shown and "138****5678" in shown and "etl:***@db" in shown


def test_mask_value_is_the_array_mask_on_one_value() -> None:
    """The profile API masks single values with ``mask_value``; it must equal the vectorised masks
    (the sharing views and reports) on every kind of value, odd lengths and CJK included."""
    import random

    from exchange.formats import mask_value

    rng = random.Random(11)
    alphabet = "0123456789X中华人民共和国欧阳 -abc"
    values = ["", "1", "12", "61090219900101123X", "13812345678", "138123456789", "029-88886666", "张",
              "欧阳娜娜", "91110000600037341L", "x" * 50, "𠀀𠀁𠀂"]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(2000)]
    values += [f"1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}" for _ in range(200)]
    arrays = {"resident_id": mask_resident_id, "phone": mask_phone, "name": mask_name,
              "credit_code": mask_credit_code, "generic": mask_generic}
    for kind, vectorised in arrays.items():
        assert [mask_value(kind, v) for v in values] == vectorised(values).to_pylist(), kind
        assert mask_value(kind, None) is None
