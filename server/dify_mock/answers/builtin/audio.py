"""Audio for the built-in TTS and speech2text answers.

TTS makes tone "speech" (one tone per word, its pitch taken from the word) as MP3 segments. Each segment
carries its text in an ID3 TXXX frame described "dify-mock-text", so speech2text on what TTS produced
reads the text back. The tag is ID3v2.3, which has no UTF-8: the text is stored as UTF-16 with a BOM.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import re
import string
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lameenc
import miniaudio

AudioFormat = Literal["mp3", "wav", "ogg", "flac", "m4a", "webm"]

SAMPLE_RATE = 16_000
TEXT_DESCRIPTION = "dify-mock-text"
MAX_SEGMENTS = 10
_BIT_RATE_KBPS = 32
_WORDS_PER_GROUP = 12
_MAX_TONES_PER_SEGMENT = 48
_MIN_FRAMES_PER_CHUNK = 8
_AMPLITUDE = 9000
_SENTENCE = re.compile(r".*?(?:[.!?]+(?=\s|\Z)|[\u3002\uff01\uff1f]+|\n|\Z)\s*", re.DOTALL)


class AudioError(ValueError):
    """The bytes are not audio that dify-mock can read."""


@dataclass(frozen=True)
class AudioInfo:
    format: AudioFormat
    duration_seconds: float | None
    embedded_text: str | None


# --- synthesis ---------------------------------------------------------------------------------------


def synthesize_mp3(text: str) -> list[bytes]:
    """Complete, independently playable MP3 segments for `text`; the same text gives the same bytes."""
    return [_segment_mp3(segment) for segment in split_segments(text)]


@functools.lru_cache(maxsize=256)
def _segment_mp3(segment: str) -> bytes:
    """Encoding takes the event loop's time (lameenc, ~ms per segment): a plugin that asks for the same speech again
    and again (a flood of TTS calls) gets it from here. At most 256 segments of a few kB each are kept."""
    return _text_tag(segment) + _encode(_render(segment))


def split_segments(text: str) -> list[str]:
    """Sentences (long ones cut into groups of words), at most MAX_SEGMENTS; joined they are `text` again."""
    pieces: list[str] = []
    for match in _SENTENCE.finditer(text):
        if match.group():
            pieces.extend(_word_groups(match.group()))
    segments: list[str] = []
    pending = ""
    for piece in pieces:
        if piece.strip():
            segments.append(pending + piece)
            pending = ""
        else:
            pending += piece
    if pending and segments:
        segments[-1] += pending
    if not segments:
        return [text]
    size = math.ceil(len(segments) / MAX_SEGMENTS)
    return ["".join(segments[i : i + size]) for i in range(0, len(segments), size)]


def _word_groups(sentence: str) -> list[str]:
    words = re.findall(r"\s*\S+\s*", sentence)
    if len(words) <= _WORDS_PER_GROUP * 3 // 2:
        return [sentence]
    return ["".join(words[i : i + _WORDS_PER_GROUP]) for i in range(0, len(words), _WORDS_PER_GROUP)]


def _render(segment: str) -> bytes:
    """16-bit mono PCM in the machine's byte order, which is what lameenc reads."""
    samples = _silence(0.05)
    words = re.findall(r"\w+", segment)[:_MAX_TONES_PER_SEGMENT]
    for word in words:
        samples += _tone(word)
        samples += _silence(0.06)
    samples += _silence(0.25 if not words else 0.05)
    return samples.tobytes()


def _tone(word: str) -> array[int]:
    digest = hashlib.sha256(word.lower().encode()).digest()
    pitch = 140 + digest[0] * 240 / 255
    period = round(SAMPLE_RATE / pitch)
    cycle = array(
        "h",
        (
            round(_AMPLITUDE * (math.sin(t) + 0.5 * math.sin(2 * t) + 0.25 * math.sin(3 * t)) / 1.75)
            for t in (2 * math.pi * k / period for k in range(period))
        ),
    )
    length = int(SAMPLE_RATE * min(0.08 + 0.03 * len(word), 0.4))
    tone = (cycle * (length // period + 1))[:length]
    fade = min(240, length // 2)
    for k in range(fade):
        tone[k] = tone[k] * k // fade
        tone[length - 1 - k] = tone[length - 1 - k] * k // fade
    return tone


def _silence(seconds: float) -> array[int]:
    return array("h", bytes(2 * int(SAMPLE_RATE * seconds)))


def _encode(pcm: bytes) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(_BIT_RATE_KBPS)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_out_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(5)
    return bytes(encoder.encode(pcm)) + bytes(encoder.flush())


def _text_tag(text: str) -> bytes:
    body = b"\x01" + _utf16(TEXT_DESCRIPTION) + b"\x00\x00" + _utf16(text)
    frame = b"TXXX" + len(body).to_bytes(4, "big") + b"\x00\x00" + body
    return b"ID3\x03\x00\x00" + _syncsafe(len(frame)) + frame


def _utf16(text: str) -> bytes:
    return b"\xff\xfe" + text.encode("utf-16-le", errors="replace")


def _syncsafe(value: int) -> bytes:
    return bytes((value >> shift) & 0x7F for shift in (21, 14, 7, 0))


# --- inspection ----------------------------------------------------------------------------------------


def inspect_audio(data: bytes) -> AudioInfo:
    """What `data` is; MP3, WAV and FLAC are decoded, so a broken file raises AudioError."""
    if not data:
        raise AudioError("empty audio file")
    kind = _sniff(data)
    if kind is None:
        raise AudioError(_not_audio(data))
    if kind == "mp3":
        return _inspect_mp3(data)
    if kind == "wav":
        return AudioInfo("wav", _decoded_seconds("wav", miniaudio.wav_read_s16, data), None)
    if kind == "flac":
        return AudioInfo("flac", _decoded_seconds("flac", miniaudio.flac_read_s16, data), None)
    if kind == "ogg":
        try:
            info = miniaudio.vorbis_get_info(data)
        except miniaudio.DecodeError:  # Opus or another codec miniaudio does not read
            return AudioInfo("ogg", None, None)
        return AudioInfo("ogg", float(info.duration), None)
    return AudioInfo(kind, None, None)


def _inspect_mp3(data: bytes) -> AudioInfo:
    units = _mp3_units(data)
    texts = [text for kind, start, end in units if kind == "id3" for text in _tag_texts(data[start:end])]
    frames = b"".join(data[start:end] for kind, start, end in units if kind == "frame")
    if not frames:
        raise AudioError("mp3 that does not decode: no MPEG audio frames found")
    # dr_mp3 stops at an ID3 tag in mid-stream (joined TTS segments), so decode the frames alone.
    seconds = _decoded_seconds("mp3", miniaudio.mp3_read_s16, frames)
    return AudioInfo("mp3", seconds, "".join(texts) if texts else None)


def _decoded_seconds(kind: str, read: Callable[[bytes], Any], data: bytes) -> float:
    try:
        sound = read(data)
    except miniaudio.DecodeError as error:
        raise AudioError(f"{kind} that does not decode: {error}") from error
    if sound.num_frames == 0 and kind != "wav":
        raise AudioError(f"{kind} that does not decode: no audio samples in it")
    return float(sound.num_frames / sound.sample_rate)


def _sniff(data: bytes) -> AudioFormat | None:
    if data.startswith(b"ID3"):
        size = _id3_size(data, 0)
        after = _sniff(data[size:]) if size is not None and len(data) > size else None
        return after or "mp3"
    if _frame_header(data, 0) is not None:
        return "mp3"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data.startswith(b"OggS"):
        return "ogg"
    if data.startswith(b"fLaC"):
        return "flac"
    if data[4:8] == b"ftyp":
        return "m4a"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    return None


def _not_audio(data: bytes) -> str:
    head = " ".join(f"{byte:02x}" for byte in data[:4])
    hint = _looks_like(data)
    return f"not audio: the file starts with bytes {head}" + (f" (looks like {hint})" if hint else "")


_MAGIC_HINTS = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
)


def _looks_like(data: bytes) -> str | None:
    for magic, hint in _MAGIC_HINTS:
        if data.startswith(magic):
            return hint
    if data.startswith(b"RIFF"):
        return f"a RIFF file of type {data[8:12]!r}, not WAVE"
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0:
        return "AAC in ADTS frames, which dify-mock cannot read"
    text = data[:512].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<body" in text or b"<head" in text:
        return "HTML"
    if text.startswith(b"<"):
        return "XML"
    if text.startswith((b"{", b"[")):
        return "JSON"
    try:
        decoded = data[:512].decode()
    except UnicodeDecodeError:
        return None
    if len(data) >= 8 and all(c in string.hexdigits for c in decoded):
        return "hex text: decode the hex first"
    if all(c.isprintable() or c.isspace() for c in decoded):
        return "text"
    return None


# --- MP3 structure -----------------------------------------------------------------------------------

_BITRATES = {  # kbps by (MPEG-1 or not, layer bits); index 0 ("free") is not supported
    (True, 3): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 3): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 1): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True)
class _Frame:
    length: int
    tag_offset: int  # where a Xing/Info tag would start: after the header, CRC and side information


def _frame_header(data: bytes, pos: int) -> _Frame | None:
    if pos + 4 > len(data):
        return None
    b0, b1, b2, b3 = data[pos : pos + 4]
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 3
    if b0 != 0xFF or b1 & 0xE0 != 0xE0 or version == 1 or layer == 0:
        return None
    if bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    padding = (b2 >> 1) & 1
    if layer == 3:
        length = (12 * bitrate // rate + padding) * 4
    elif layer == 1 and not mpeg1:
        length = 72 * bitrate // rate + padding
    else:
        length = 144 * bitrate // rate + padding
    mono = b3 >> 6 == 3
    side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    return _Frame(length, 4 + (0 if b1 & 1 else 2) + side_info)


def _id3_size(data: bytes, pos: int) -> int | None:
    header = data[pos : pos + 10]
    if len(header) < 10 or header[:3] != b"ID3" or header[3] not in (2, 3, 4) or header[4] == 0xFF:
        return None
    if any(byte & 0x80 for byte in header[6:10]):
        return None
    footer = 10 if header[3] == 4 and header[5] & 0x10 else 0
    return 10 + _syncsafe_value(header[6:10]) + footer


def _syncsafe_value(raw: bytes) -> int:
    return (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]


def _mp3_units(data: bytes) -> list[tuple[str, int, int]]:
    """The file as consecutive ("id3" | "frame" | "junk", start, end) pieces."""
    units: list[tuple[str, int, int]] = []
    pos = 0
    while pos < len(data):
        tag_size = _id3_size(data, pos)
        frame = _frame_header(data, pos) if tag_size is None else None
        if tag_size is not None:
            end, kind = min(pos + tag_size, len(data)), "id3"
        elif frame is not None and pos + frame.length <= len(data):
            end, kind = pos + frame.length, "frame"
        else:
            end, kind = _resync(data, pos + 1), "junk"
        units.append((kind, pos, end))
        pos = end
    return units


def _resync(data: bytes, start: int) -> int:
    """The next offset where an ID3 tag or two consecutive MPEG frames begin, else the end."""
    pos = start
    while (pos := _next_candidate(data, pos)) < len(data):
        if _id3_size(data, pos) is not None:
            return pos
        frame = _frame_header(data, pos)
        if frame is not None:
            end = pos + frame.length
            if end == len(data) or _frame_header(data, end) is not None or _id3_size(data, end) is not None:
                return pos
        pos += 1
    return len(data)


def _next_candidate(data: bytes, pos: int) -> int:
    found = [i for i in (data.find(b"\xff", pos), data.find(b"ID3", pos)) if i != -1]
    return min(found, default=len(data))


def _tag_texts(tag: bytes) -> list[str]:
    """The values of the TXXX frames described "dify-mock-text" in one ID3v2.3 or v2.4 tag."""
    version, flags = tag[3], tag[5]
    body = tag[10:]
    if version == 2:
        return []
    if version == 3 and flags & 0x80:
        body = body.replace(b"\xff\x00", b"\xff")
    pos = 0
    if flags & 0x40 and len(body) >= 4:
        pos = int.from_bytes(body[:4], "big") + 4 if version == 3 else _syncsafe_value(body[:4])
    texts: list[str] = []
    while pos + 10 <= len(body) and body[pos] != 0:
        raw_size = body[pos + 4 : pos + 8]
        size = _syncsafe_value(raw_size) if version == 4 else int.from_bytes(raw_size, "big")
        if body[pos : pos + 4] == b"TXXX":
            pair = _txxx(body[pos + 10 : pos + 10 + size])
            if pair is not None and pair[0] == TEXT_DESCRIPTION:
                texts.append(pair[1])
        pos += 10 + size
    return texts


def _txxx(content: bytes) -> tuple[str, str] | None:
    if not content or content[0] > 3:
        return None
    encoding, rest = content[0], content[1:]
    if encoding in (1, 2):
        codec, end = ("utf-16" if encoding == 1 else "utf-16-be"), 0
        while (end := rest.find(b"\x00\x00", end)) != -1 and end % 2:
            end += 1
        width = 2
    else:
        codec, end, width = ("latin-1" if encoding == 0 else "utf-8"), rest.find(b"\x00"), 1
    if end == -1:
        return None
    description = rest[:end].decode(codec, errors="replace")
    value = rest[end + width :].decode(codec, errors="replace").rstrip("\x00")
    return description, value


# --- fixture files -------------------------------------------------------------------------------------


def read_mp3_file(path: Path, max_chunks: int = 4) -> list[bytes]:
    """An MP3 file cut on frame boundaries into a few chunks, each of them a playable MP3."""
    data = path.read_bytes()
    frames = [(start, end) for kind, start, end in _mp3_units(data) if kind == "frame"]
    info_frame = frames.pop(0) if frames and _is_info_frame(data, frames[0][0]) else None
    if not frames:
        raise AudioError(f"{path}: not an MP3 file (no MPEG audio frames found)")
    count = max(1, min(max_chunks, len(frames) // _MIN_FRAMES_PER_CHUNK))
    bounds = [0, *(frames[len(frames) * k // count][0] for k in range(1, count)), len(data)]
    chunks = [data[start:end] for start, end in itertools.pairwise(bounds)]
    if info_frame is not None:
        # The Xing/Info frame states the whole file's length, which would be wrong for the first chunk.
        chunks[0] = data[: info_frame[0]] + data[info_frame[1] : bounds[1]]
    return chunks


def _is_info_frame(data: bytes, pos: int) -> bool:
    frame = _frame_header(data, pos)
    if frame is None:
        return False
    tag = data[pos + frame.tag_offset : pos + frame.tag_offset + 4]
    return tag in (b"Xing", b"Info") or data[pos + 36 : pos + 40] == b"VBRI"
