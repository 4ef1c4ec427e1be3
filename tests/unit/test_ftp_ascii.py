"""TYPE A conversion, chunk by chunk: split anywhere, the result is the one-shot conversion."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferryd.ftp.proto.ascii import AsciiDownloadEncoder, AsciiUploadDecoder

# bytes rich in CR and LF, so that chunk edges often fall between them
LINE_BYTES = st.binary(max_size=200) | st.lists(
    st.sampled_from([b"\r", b"\n", b"\r\n", b"a", b"\xff", b"\x00"]), max_size=80
).map(b"".join)


def encode_in_chunks(data: bytes, cuts: list[int]) -> bytes:
    encoder = AsciiDownloadEncoder()
    return b"".join(encoder.encode(chunk) for chunk in _chunks(data, cuts))


def decode_in_chunks(data: bytes, cuts: list[int]) -> bytes:
    decoder = AsciiUploadDecoder()
    return b"".join(decoder.decode(chunk) for chunk in _chunks(data, cuts)) + decoder.flush()


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


DOWNLOAD_TABLE = [
    (b"", b""),
    (b"a\nb\n", b"a\r\nb\r\n"),
    (b"a\r\nb", b"a\r\nb"),  # already CRLF: left alone
    (b"\n\n", b"\r\n\r\n"),
    (b"a\rb", b"a\rb"),  # a lone CR is data
    (b"\r\r\n", b"\r\r\n"),
    (b"\n\r", b"\r\n\r"),
]


@pytest.mark.parametrize(("data", "wire"), DOWNLOAD_TABLE)
def test_download_one_shot(data: bytes, wire: bytes) -> None:
    assert AsciiDownloadEncoder().encode(data) == wire


@pytest.mark.parametrize(("data", "wire"), DOWNLOAD_TABLE)
def test_download_byte_by_byte(data: bytes, wire: bytes) -> None:
    assert encode_in_chunks(data, list(range(len(data)))) == wire


def test_download_crlf_split_between_chunks_is_not_doubled() -> None:
    encoder = AsciiDownloadEncoder()
    assert encoder.encode(b"line\r") == b"line\r"
    assert encoder.encode(b"\nnext\n") == b"\nnext\r\n"
    assert encoder.encode(b"") == b""
    assert encoder.encode(b"\n") == b"\r\n"  # the previous chunk ended in LF, not CR


UPLOAD_TABLE = [
    (b"", b""),
    (b"a\r\nb\r\n", b"a\nb\n"),
    (b"a\nb", b"a\nb"),  # bare LF stays
    (b"a\rb", b"a\rb"),  # a lone CR is kept
    (b"a\r", b"a\r"),  # ... even at the very end
    (b"\r\r\n", b"\r\n"),
    (b"\r\n\r\n", b"\n\n"),
]


@pytest.mark.parametrize(("wire", "data"), UPLOAD_TABLE)
def test_upload_one_shot(wire: bytes, data: bytes) -> None:
    assert decode_in_chunks(wire, []) == data


@pytest.mark.parametrize(("wire", "data"), UPLOAD_TABLE)
def test_upload_byte_by_byte(wire: bytes, data: bytes) -> None:
    assert decode_in_chunks(wire, list(range(len(wire)))) == data


def test_upload_holds_a_trailing_cr_until_it_knows() -> None:
    decoder = AsciiUploadDecoder()
    assert decoder.decode(b"a\r") == b"a"
    assert decoder.decode(b"\nb\r") == b"\nb"
    assert decoder.decode(b"\r") == b"\r"  # the first CR was lone; the second waits
    assert decoder.flush() == b"\r"
    assert decoder.flush() == b""


@settings(max_examples=300, deadline=None)
@given(LINE_BYTES, st.lists(st.integers(min_value=0, max_value=200), max_size=10))
def test_download_in_any_chunks_equals_one_shot(data: bytes, cuts: list[int]) -> None:
    assert encode_in_chunks(data, cuts) == AsciiDownloadEncoder().encode(data)


@settings(max_examples=300, deadline=None)
@given(LINE_BYTES, st.lists(st.integers(min_value=0, max_value=200), max_size=10))
def test_upload_in_any_chunks_equals_one_shot(data: bytes, cuts: list[int]) -> None:
    assert decode_in_chunks(data, cuts) == decode_in_chunks(data, [])


@settings(max_examples=200, deadline=None)
@given(LINE_BYTES)
def test_one_shot_matches_a_reference(data: bytes) -> None:
    # download: every LF not already after a CR gets one; upload: every CRLF becomes LF
    expected_wire = bytearray()
    for index, byte in enumerate(data):
        if byte == 0x0A and (index == 0 or data[index - 1] != 0x0D):
            expected_wire += b"\r"
        expected_wire.append(byte)
    assert AsciiDownloadEncoder().encode(data) == bytes(expected_wire)
    assert decode_in_chunks(data, []) == data.replace(b"\r\n", b"\n")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200).map(lambda data: data.replace(b"\r", b"")))
def test_upload_of_a_download_gives_back_a_file_without_cr(data: bytes) -> None:
    wire = AsciiDownloadEncoder().encode(data)
    assert b"\n" not in wire.replace(b"\r\n", b"")
    assert decode_in_chunks(wire, [len(wire) // 2]) == data
