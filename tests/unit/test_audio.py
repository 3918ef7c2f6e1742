"""Synthesized MP3 segments play on their own and carry their text; inspect_audio tells audio from the rest."""

from __future__ import annotations

import io
import math
import struct
import wave
from array import array
from pathlib import Path

import lameenc
import miniaudio
import pytest
from dify_mock.answers.builtin.audio import AudioError, inspect_audio, read_mp3_file, split_segments, synthesize_mp3

TEXT = "Hello there. This is the mock speaking! Does the text come back?"


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = int(seconds * rate)
        out.writeframes(struct.pack(f"<{frames}h", *(int(3000 * math.sin(i / 5)) for i in range(frames))))
    return buffer.getvalue()


def test_each_segment_is_a_complete_mp3_with_sound() -> None:
    segments = synthesize_mp3(TEXT)
    assert len(segments) == 3
    for segment in segments:
        assert segment.startswith(b"ID3\x03")
        decoded = miniaudio.decode(segment)
        assert decoded.duration > 0.2
        assert max(decoded.samples) > 1000


def test_synthesis_is_deterministic_and_depends_on_the_text() -> None:
    assert synthesize_mp3(TEXT) == synthesize_mp3(TEXT)
    assert synthesize_mp3("one two") != synthesize_mp3("one three")


def test_text_round_trips_per_segment_and_joined() -> None:
    text = "Grüße aus Köln! 世界你好。Plain ASCII at the end."
    segments = synthesize_mp3(text)
    assert "".join(inspect_audio(s).embedded_text or "" for s in segments) == text
    joined = inspect_audio(b"".join(segments))
    assert joined.format == "mp3"
    assert joined.embedded_text == text
    seconds = sum(inspect_audio(s).duration_seconds or 0 for s in segments)
    assert joined.duration_seconds == pytest.approx(seconds, abs=0.01)


def test_empty_text_gives_one_short_segment() -> None:
    (segment,) = synthesize_mp3("")
    info = inspect_audio(segment)
    assert info.embedded_text == ""
    assert 0 < (info.duration_seconds or 0) < 1


def test_long_text_is_cut_into_at_most_ten_segments() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    segments = split_segments(text)
    assert len(segments) <= 10
    assert "".join(segments) == text
    words = " ".join(f"word{i}" for i in range(100))
    assert 1 < len(split_segments(words)) <= 10
    assert "".join(split_segments(words)) == words


def test_wav_is_decoded_for_its_duration() -> None:
    info = inspect_audio(wav_bytes(1.25))
    assert info.format == "wav"
    assert info.duration_seconds == pytest.approx(1.25)
    assert info.embedded_text is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty audio file"),
        (b"<html><body>oops</body></html>", "not audio: the file starts with bytes 3c 68 74 6d (looks like HTML)"),
        (b'{"error": "nope"}', "(looks like JSON)"),
        (b"4944330300000000", "(looks like hex text"),
        (b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"not frames" * 20, "mp3 that does not decode"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(30), "wav that does not decode"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(AudioError) as caught:
        inspect_audio(data)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"OggS" + bytes(60), "ogg"),
        (b"\x00\x00\x00\x20ftypM4A " + bytes(40), "m4a"),
        (b"\x1a\x45\xdf\xa3" + bytes(40), "webm"),
    ],
)
def test_other_containers_are_sniffed(data: bytes, kind: str) -> None:
    assert inspect_audio(data).format == kind


def encode_mp3(seconds: float) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(128)
    encoder.set_in_sample_rate(44100)
    encoder.set_channels(2)
    encoder.set_quality(2)
    samples = array(
        "h", (int(8000 * math.sin(i * (0.05 + i / 4e6))) for i in range(int(44100 * seconds)) for _ in "LR")
    )
    return bytes(encoder.encode(samples.tobytes())) + bytes(encoder.flush())


def test_fixture_file_is_split_into_playable_chunks(tmp_path: Path) -> None:
    original = encode_mp3(3)
    path = tmp_path / "speech.mp3"
    path.write_bytes(original)
    chunks = read_mp3_file(path)
    assert 2 <= len(chunks) <= 4
    assert b"".join(chunks) == original
    for chunk in chunks:
        assert chunk[0] == 0xFF and chunk[1] & 0xE0 == 0xE0
        assert miniaudio.decode(chunk).duration > 0.3


def test_info_frame_is_left_out_and_leading_tag_kept(tmp_path: Path) -> None:
    body = encode_mp3(2)
    padded = (body[2] >> 1) & 1
    info_frame = body[:4] + bytes(32) + b"Info" + bytes(144 * 128_000 // 44100 + padded - 40)
    segment = synthesize_mp3("tagged")[0]
    size = segment[6] << 21 | segment[7] << 14 | segment[8] << 7 | segment[9]
    tag = segment[: 10 + size]
    path = tmp_path / "tagged.mp3"
    path.write_bytes(tag + info_frame + body)
    chunks = read_mp3_file(path)
    assert chunks[0].startswith(tag + body[:4])
    assert b"".join(chunks) == tag + body
    assert inspect_audio(chunks[0]).embedded_text == "tagged"


def test_non_mp3_fixture_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "page.mp3"
    path.write_bytes(b"<html></html>")
    with pytest.raises(AudioError, match="no MPEG audio frames"):
        read_mp3_file(path)
