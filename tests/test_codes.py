"""Identifiers, names and codes: deterministic, bounded, safe."""

from __future__ import annotations

import re

import pytest

from mdai_fastexport.codes import code_value, label_code, meaning, person_name, safe_name, uid_from


def test_uids_are_deterministic_valid_and_distinct():
    a = uid_from("SEG", "D_1", "1.2.3", "U_1")
    assert a == uid_from("SEG", "D_1", "1.2.3", "U_1")
    assert a != uid_from("SEG", "D_1", "1.2.3", "U_2")
    # parts are delimited: ("ab", "c") must not collide with ("a", "bc")
    assert uid_from("ab", "c") != uid_from("a", "bc")
    assert re.fullmatch(r"2\.25\.(0|[1-9]\d*)", a) and len(a) <= 64


@pytest.mark.parametrize(
    "text",
    ["../../x", "..", ".", "", "/etc/passwd", "a\x00b", "C:\\win", "ünïcödé", "x" * 300, "-.-"],
)
def test_safe_name_never_leaves_the_folder(text):
    name = safe_name(text, 40)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
    assert ".." not in name and not name.startswith(".") and len(name) <= 40


def test_safe_name_keeps_clean_names_and_separates_changed_ones():
    assert safe_name("Default_group") == "Default_group"
    assert safe_name("a/b") != safe_name("a_b")
    assert safe_name("a/b") == safe_name("a/b")


def test_person_names():
    assert person_name("Ada Lovelace") == "Lovelace^Ada"
    assert person_name("Ann B. Otator") == "Otator^Ann B."
    assert person_name("admin") == "admin^"
    assert person_name("Doe^Jane") == "Doe^Jane"
    assert "\\" not in person_name("a\\b") and "=" not in person_name("a=b")
    assert person_name("  ") == "unknown^"


def test_codes_and_meanings():
    assert code_value("", "L_abc123") == "L_abc123"
    long_id = "label-" + "x" * 40
    assert len(code_value("", long_id)) <= 16 and code_value("", long_id) == code_value("", long_id)
    assert meaning("a\\b\x07c") == "a b c"
    assert len(meaning("y" * 100)) == 64
    assert label_code("L_1", "Nodule", ("RID3875",)).scheme_designator == "RADLEX"
    assert label_code("L_1", "Nodule", ("not-a-rid",)).scheme_designator == "99MDAI"
