"""DICOM encoding shared by the SEG and SR builders.

* :mod:`.values`: values made valid for their VR (byte-bounded text, DS, UIDs).
* :mod:`.encode`: elements, items and sequences as bytes for the hot paths.
* :mod:`.part10`: Part 10 files from a pydicom header plus pre-encoded tail elements.
"""
