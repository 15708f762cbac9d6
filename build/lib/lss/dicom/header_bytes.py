"""The fast path of indexing: the few top-level elements the manifest needs, read straight from the file's bytes.

pydicom's ``dcmread`` builds a Dataset of every element and converts each value through its VR
machinery; the indexer needs about twenty elements as text. For the files a repository is made
of (a preamble, explicit or implicit VR little endian, the classic single-frame image objects)
this reads the header bytes once, walks the elements (skipping sequences), keeps the wanted ones
as text and stops at Pixel Data, whose declared length against the file size is the truncation
check. Anything else (no preamble, big endian, deflate, enhanced multi-frame functional groups,
anything malformed) raises ``NotFast`` and pydicom reads the file: the fast path never decides
a skip that pydicom would not.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

IMPLICIT_LITTLE = "1.2.840.10008.1.2"
DECLINED_SYNTAXES = ("1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99")
"""Big endian and deflated datasets: pydicom reads those."""
PIXEL_DATA = 0x7FE00010
TEXT_TAGS: dict[int, str] = {
    0x00080008: "ImageType", 0x00080016: "SOPClassUID", 0x00080018: "SOPInstanceUID",
    0x0008103E: "SeriesDescription", 0x00100020: "PatientID", 0x00180020: "ScanningSequence",
    0x00180022: "ScanOptions", 0x00180080: "RepetitionTime", 0x00180081: "EchoTime", 0x00180082: "InversionTime",
    0x00180086: "EchoNumbers", 0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID", 0x00200013: "InstanceNumber", 0x00200032: "ImagePositionPatient",
    0x00200037: "ImageOrientationPatient", 0x00201041: "SliceLocation", 0x00280004: "PhotometricInterpretation",
    0x00280008: "NumberOfFrames",
}  # fmt: skip  # one line per pair of related tags
"""The text elements (UI, CS, LO, DS, IS) the manifest is made of, by tag."""
SAMPLES_PER_PIXEL = 0x00280002
DECLINED_TAGS = frozenset({0x52009229, 0x52009230})
"""Functional groups (enhanced multi-frame): pydicom. Text of any character set is read only when it is ASCII."""
_LONG_LENGTH_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SHORT_LENGTH_VRS = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"PN", b"SH", b"SL", b"SS",
     b"ST", b"TM", b"UI", b"UL", b"US"}
)  # fmt: skip  # the rest of DICOM's VR table
_TWO_UINT32, _UINT32 = struct.Struct("<II"), struct.Struct("<I")
UNDEFINED_LENGTH = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
FIRST_READ = 1 << 16
MAX_HEADER = 1 << 22
"""A header that does not end within 4 MiB is left to pydicom."""


class NotFast(Exception):
    """The fast path declines this file; pydicom reads it."""


@dataclass(frozen=True)
class TopLevel:
    """What a file says outside its elements' text: the file meta SOP class, SamplesPerPixel, Pixel Data."""

    media_sop_class: str
    samples_per_pixel: int | None
    pixel_data_start: int | None
    """Offset of the Pixel Data value, None when the file has no Pixel Data element."""
    pixel_data_length: int | None


@dataclass(frozen=True)
class HeaderText:
    """A file's top-level elements as text (multi-values joined by backslashes), and the rest of its top level."""

    texts: dict[str, str]
    top: TopLevel


def _text(value: bytes) -> str:
    if not value.isascii():
        raise NotFast("non-ASCII text")
    return value.decode("ascii").rstrip("\x00 ")


class _Reader:
    """Element walker over a growing buffer of the file's first bytes."""

    def __init__(self, file: object, file_size: int) -> None:
        self.file, self.file_size = file, file_size
        self.buffer = file.read(FIRST_READ)  # type: ignore[attr-defined]

    def need(self, end: int) -> None:
        """Make sure bytes up to ``end`` are in the buffer (or say the file ends first)."""
        while len(self.buffer) < end:
            if len(self.buffer) >= self.file_size or len(self.buffer) >= MAX_HEADER:
                raise EOFError
            more = self.file.read(max(FIRST_READ, end - len(self.buffer)))  # type: ignore[attr-defined]
            if not more:
                raise EOFError
            self.buffer += more

    def element(self, position: int, implicit: bool) -> tuple[int, bytes, int, int]:
        """(tag, VR or b"", value length, value offset) of the element at ``position``."""
        if position + 12 > len(self.buffer):
            self.need(position + 8)
        group_element, length = _TWO_UINT32.unpack_from(self.buffer, position)
        tag = (group_element & 0xFFFF) << 16 | group_element >> 16
        if implicit or tag >= _ITEM:
            return tag, b"", length, position + 8
        vr = self.buffer[position + 4 : position + 6]
        if vr in _LONG_LENGTH_VRS:
            self.need(position + 12)
            return tag, vr, _UINT32.unpack_from(self.buffer, position + 8)[0], position + 12
        if vr not in _SHORT_LENGTH_VRS:
            raise NotFast(f"unreadable VR {vr!r}")
        return tag, vr, length >> 16, position + 8

    def skip_undefined(self, position: int, implicit: bool) -> int:
        """Offset after a sequence (or UN) of undefined length that starts its items at ``position``."""
        while True:
            tag, _, length, start = self.element(position, implicit=True)
            if tag == _SEQUENCE_END:
                return start
            if tag != _ITEM:
                raise NotFast("malformed sequence")
            if length != UNDEFINED_LENGTH:
                position = start + length
                continue
            position = start
            while True:  # the item's own elements, up to its delimiter
                tag, _, length, start = self.element(position, implicit)
                if tag == _ITEM_END:
                    position = start
                    break
                position = self.skip_undefined(start, implicit) if length == UNDEFINED_LENGTH else start + length


def read_header_text(file: object, file_size: int) -> HeaderText:
    """The wanted elements of a little-endian file with a preamble; ``NotFast`` for anything else."""
    reader = _Reader(file, file_size)
    if len(reader.buffer) < 132 or reader.buffer[128:132] != b"DICM":
        raise NotFast("no preamble")
    meta: dict[int, str] = {}
    position = 132
    while True:  # file meta information: always explicit VR little endian
        tag, _, length, start = reader.element(position, implicit=False)
        if tag >> 16 != 0x0002:
            break
        reader.need(start + length)
        if tag in (0x00020002, 0x00020010):
            meta[tag] = _text(reader.buffer[start : start + length])
        position = start + length
    syntax = meta.get(0x00020010, "")
    if not syntax or syntax in DECLINED_SYNTAXES:
        raise NotFast(f"transfer syntax {syntax!r}")
    implicit = syntax == IMPLICIT_LITTLE
    texts: dict[str, str] = {}
    samples_per_pixel = pixel_start = pixel_length = None
    try:
        while True:
            tag, vr, length, start = reader.element(position, implicit)
            if tag == PIXEL_DATA:
                pixel_start, pixel_length = start, length
                break
            if tag in DECLINED_TAGS or tag in (_ITEM, _ITEM_END, _SEQUENCE_END) or tag < 0x00080000:
                raise NotFast(f"element ({tag >> 16:04X},{tag & 0xFFFF:04X})")
            if length == UNDEFINED_LENGTH:  # a sequence, or UN whose content is implicit VR little endian
                position = reader.skip_undefined(start, implicit or vr == b"UN")
                continue
            if tag in TEXT_TAGS or tag == SAMPLES_PER_PIXEL:
                reader.need(start + length)
                value = reader.buffer[start : start + length]
                if tag == SAMPLES_PER_PIXEL:
                    if length != 2:
                        raise NotFast("SamplesPerPixel is not a US value")
                    samples_per_pixel = struct.unpack("<H", value)[0]
                else:
                    texts[TEXT_TAGS[tag]] = _text(value)
            position = start + length
    except (EOFError, struct.error):  # the file ends before Pixel Data: only a clean end means "no Pixel Data"
        if position != file_size:
            raise NotFast("the header ends inside an element") from None
    return HeaderText(texts, TopLevel(meta.get(0x00020002, ""), samples_per_pixel, pixel_start, pixel_length))
