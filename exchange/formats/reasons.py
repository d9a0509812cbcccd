"""Human-readable messages for every reason code the format checks can return."""

from __future__ import annotations

__all__ = ["REASON_MESSAGES", "reason_message"]

REASON_MESSAGES: dict[str, str] = {
    # resident identity number (GB 11643-1999)
    "resident_id.legacy_15": "legacy 15-digit first-generation identity number (its 18-character "
                             "upgrade by the standard rule is kept as unverified where the field is flagged)",
    "resident_id.format": "not 17 digits followed by a digit or X",
    "resident_id.checksum": "check character does not match the first 17 digits (ISO 7064 MOD 11-2)",
    "resident_id.birth_date": "embedded birth date (positions 7-14) is not a real calendar date "
                              "or is before 1850",
    "resident_id.birth_future": "embedded birth date (positions 7-14) is in the future",
    "resident_id.region": "first 6 digits are not a known current or historical GB/T 2260 division code",
    "resident_id.gender": "sequence digit parity (17th digit: odd male, even female) contradicts the gender",
    "resident_id.birth_mismatch": "embedded birth date (positions 7-14) contradicts the record's own birth date",
    "resident_id.sequence_000": "sequence code 000 (positions 15-17) is never issued: typically a number a "
                                "spreadsheet kept to 15 significant digits and padded with zeros",
    "resident_id.region_expired": "the county of the first 6 digits was abolished before the embedded birth "
                                  "date: no number can have been issued there",
    # unified social credit code (GB 32100-2015)
    "credit_code.format": "not 18 characters of 0-9 and A-Y without I, O, S, V, Z, "
                          "with digits in positions 2-8",
    "credit_code.registrar": "first character (registration authority) is not 1-9, A, N or Y",
    "credit_code.checksum": "check character does not match the first 17 characters (GB 32100 MOD 31)",
    # administrative division code (GB/T 2260)
    "division_code.format": "not a 6-, 9- or 12-digit administrative division code",
    "division_code.unknown": "6-digit county prefix is not a GB/T 2260 division code",
    "division_code.abolished": "6-digit county prefix is a GB/T 2260 code that has been abolished",
    # phone numbers
    "phone.mobile": "not an 11-digit mainland mobile number (1[3-9] followed by 9 digits)",
    "phone.landline": "not a landline number of the form 0AA(A)-NNNNNNN(N)",
    "phone.format": "neither an 11-digit mobile number nor a landline 0AA(A)-NNNNNNN(N)",
    # motor-vehicle plates (GA 36)
    "plate.province": "first character is not a province's abbreviation (京, 沪, 陕, 粤, …)",
    "plate.letters": "holds an I or an O, letters never issued on plates (they read as 1 and 0)",
    "plate.format": "not a plate number: province, letter, then 5 letters or digits (or 4 and 挂/学/警/港/澳), "
                    "or a new-energy plate (D/F + 5 characters, or 5 digits + D/F)",
    # person names
    "person_name.mojibake": "text that reads as Chinese once its bytes are decoded as UTF-8: UTF-8 read as "
                            "Windows-1252/Latin-1 (mojibake), typically a UTF-8 export opened and saved as ANSI; "
                            "re-export the file as UTF-8 (or declare the file's real encoding: in the feed)",
    # dates
    "date.format": "not a date in the form YYYY-MM-DD",
    "date.invalid": "not a real calendar date",
    "date.future": "date is in the future",
    # date-times
    "datetime.format": "not a date-time in the form YYYY-MM-DD HH:MM:SS",
    "datetime.invalid": "not a real calendar date or time of day",
    "datetime.future": "date-time is in the future",
}


def reason_message(code: str) -> str:
    """The message for ``code`` (the code itself when unknown)."""
    return REASON_MESSAGES.get(code, code)
