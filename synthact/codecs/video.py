"""RGB frames <-> a video bitstream with a keyframe index, decodable by window.

Why video: consecutive frames of a take and view differ little, so H.264
stores RGB at a fraction of per-frame JPEG's size at the same quality.
Why this layout: the bitstream is a raw elementary stream (H.264 Annex B,
AV1 low-overhead OBUs, or concatenated JPEGs), one packet per frame, kept as
a flat uint8 array next to three small index arrays. A window of frames is
then decoded from one contiguous byte range, from the keyframe at or before
its first frame to its last frame's packet: no container to parse, and the
rest of the stream is never read. Every ``keyframe_interval`` frames is a
closed-GOP keyframe (scene-cut detection off), so a window decodes at most
``keyframe_interval - 1`` frames it does not return.

Determinism: encoders run single-threaded with fixed options; an elementary
stream stores no wall-clock time, and x264's SEI (its version and options)
is the same for the same settings, so the same frames give byte-identical
streams with the same encoder build (tested; record ``av``'s version with
the shard). Frame indices live in ``pts``, outside the bitstream.

Index, per packet in decode order (with ``bframes=0``, decode order is frame
order and packet i is frame i):
- ``offsets`` (P + 1,) int64: packet i is ``data[offsets[i]:offsets[i + 1]]``;
- ``pts`` (P,) int64: the frame index packet i displays;
- ``keyframe`` (P,) bool: decoding may start at packet i.
"""

from __future__ import annotations

import itertools
import json
import zlib
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np

from synthact.errors import SynthActError

if TYPE_CHECKING:  # PyAV is imported on first use: JPEG and the readers' index need none of it
    from collections.abc import Iterable

    import av

CODECS = ("h264", "av1", "jpeg")
PIX_FMTS = ("yuv420p", "yuv444p")
_ENCODERS = {"h264": "libx264", "av1": "libsvtav1"}
_DECODERS = {"h264": "h264", "av1": "libdav1d"}
# Each encoder's own kind of preset: x264 takes a name, SVT-AV1 a number
# (0 slowest .. 13 fastest; 8 encodes a 320x240 frame in a few ms on one core).
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
SVT_AV1_PRESETS = tuple(str(n) for n in range(14))
DEFAULT_PRESETS = {"h264": "medium", "av1": "8", "jpeg": ""}


@dataclass(frozen=True)
class VideoSettings:
    """How one take-view's RGB is coded.

    Attributes:
        codec: ``h264`` (default), ``av1`` (SVT-AV1, smaller, slower to
            encode) or ``jpeg`` (one JPEG per frame, every frame a keyframe).
        keyframe_interval: K, frames between keyframes; a window decodes at
            most K - 1 extra frames.
        crf: Constant rate factor (x264: 0-51, SVT-AV1: 1-63); lower is better.
        preset: x264 preset name (``X264_PRESETS``), or SVT-AV1 preset
            number as a string (``SVT_AV1_PRESETS``); empty: the codec's
            default (``DEFAULT_PRESETS``).
        bframes: x264 B-frames (0 keeps decode order = frame order).
        jpeg_quality: JPEG quality, codec ``jpeg`` only.
        fps: Frame rate written into the stream's timing (rate control uses it).
        pix_fmt: ``yuv420p`` (half-resolution colour, what every decoder
            plays) or ``yuv444p`` (full-resolution colour: H.264's High 4:4:4
            profile, which FFmpeg and libavcodec-based readers decode; SVT-AV1
            has 4:2:0 only).
        tune: x264 ``--tune``: ``"fastdecode"`` (default: no CABAC, no
            deblocking; a window decodes in about 2/3 of the time for 10 % more
            bytes) or ``""`` for none. SVT-AV1 has no such option: ignored.
    """

    codec: str = "h264"
    keyframe_interval: int = 8
    crf: int = 23
    preset: str = ""
    bframes: int = 0
    jpeg_quality: int = 90
    fps: int = 30
    pix_fmt: str = "yuv420p"
    tune: str = "fastdecode"

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"video codec {self.codec!r}: expected one of {CODECS}")
        if self.pix_fmt not in PIX_FMTS or (self.codec == "av1" and self.pix_fmt != "yuv420p"):
            raise ValueError(f"pix_fmt {self.pix_fmt!r}: expected one of {PIX_FMTS} (av1: yuv420p only)")
        if self.keyframe_interval < 1 or self.bframes < 0 or self.fps < 1:
            raise ValueError(f"invalid video settings: {self}")
        if not self.preset or self.codec == "jpeg":  # frozen: asdict() records the resolved preset
            object.__setattr__(self, "preset", DEFAULT_PRESETS[self.codec])
        allowed = {"h264": X264_PRESETS, "av1": SVT_AV1_PRESETS, "jpeg": ("",)}[self.codec]
        if self.preset not in allowed:
            raise ValueError(f"{self.codec} preset {self.preset!r}: expected one of {allowed}")
        if self.codec == "av1" and not 1 <= self.crf <= 63:
            raise ValueError(f"av1 crf {self.crf}: SVT-AV1 takes 1-63")


@dataclass(frozen=True)
class EncodedVideo:
    """A coded take-view: the bitstream and its index (see the module doc)."""

    codec: str
    width: int
    height: int
    data: np.ndarray  # (B,) uint8
    offsets: np.ndarray  # (P + 1,) int64
    pts: np.ndarray  # (P,) int64
    keyframe: np.ndarray  # (P,) bool
    settings: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.pts)

    def attrs(self) -> dict[str, Any]:
        """Attributes for the stored bitstream (what a reader needs besides the index)."""
        return {
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "settings": json.dumps(self.settings, sort_keys=True),
        }


class _Sliceable(Protocol):
    def __getitem__(self, key: slice) -> np.ndarray: ...


# --- encoding ---------------------------------------------------------------------


def _x264_params(s: VideoSettings) -> str:
    k = s.keyframe_interval
    return f"keyint={k}:min-keyint={k}:scenecut=0:bframes={s.bframes}:open-gop=0:threads=1:lookahead-threads=1"


def _svt_params(s: VideoSettings) -> str:
    # irefresh-type=2: closed-GOP key frames; lp=1: one thread, deterministic.
    return f"keyint={s.keyframe_interval}:irefresh-type=2:scd=0:lp=1"


class VideoEncoder:
    """Streaming encoder: ``add`` frames one at a time, then ``finish``.

    Holds only the compressed packets, never the raw frames, so a render
    loop can encode while it renders with bounded memory.
    """

    def __init__(self, width: int, height: int, settings: VideoSettings = VideoSettings()):
        self.width, self.height, self.settings = width, height, settings
        self._packets: list[tuple[bytes, int, bool]] = []
        self._count = 0
        self._ctx = None if settings.codec == "jpeg" else self._open()

    def _open(self) -> av.VideoCodecContext:
        import av

        s = self.settings
        ctx = cast("av.VideoCodecContext", av.CodecContext.create(_ENCODERS[s.codec], "w"))
        ctx.width, ctx.height, ctx.pix_fmt = self.width, self.height, s.pix_fmt
        ctx.time_base, ctx.framerate = Fraction(1, s.fps), Fraction(s.fps, 1)
        ctx.gop_size = s.keyframe_interval
        ctx.thread_count = 1
        if s.codec == "h264":
            ctx.options = {"crf": str(s.crf), "preset": s.preset, "x264-params": _x264_params(s)}
            if s.tune:
                ctx.options = {**ctx.options, "tune": s.tune}
        else:
            ctx.options = {"crf": str(s.crf), "preset": str(s.preset), "svtav1-params": _svt_params(s)}
        return ctx

    def add(self, rgb: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 sRGB frame."""
        rgb = np.ascontiguousarray(rgb)
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"frame must be ({self.height}, {self.width}, 3) uint8, got {rgb.shape} {rgb.dtype}")
        if self._ctx is None:
            import simplejpeg

            blob = simplejpeg.encode_jpeg(rgb, quality=self.settings.jpeg_quality, colorspace="RGB")
            self._packets.append((blob, self._count, True))
        else:
            import av

            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=self.settings.pix_fmt)
            frame.pts = self._count
            self._take(self._ctx.encode(frame))
        self._count += 1

    def _take(self, packets: Iterable[av.Packet]) -> None:
        for p in packets:
            # every frame sent carries its pts, so every packet out of the encoder has one
            assert p.pts is not None
            self._packets.append((bytes(p), int(p.pts), bool(p.is_keyframe)))

    def finish(self) -> EncodedVideo:
        """Flush the encoder; the encoder cannot be used afterwards."""
        if self._ctx is not None:
            self._take(self._ctx.encode(None))
            self._ctx = None
        if len(self._packets) != self._count:
            raise RuntimeError(f"{self.settings.codec}: {self._count} frames gave {len(self._packets)} packets")
        sizes = [len(p[0]) for p in self._packets]
        offsets = np.zeros(len(sizes) + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        data = np.frombuffer(b"".join(p[0] for p in self._packets), np.uint8).copy()
        return EncodedVideo(
            codec=self.settings.codec,
            width=self.width,
            height=self.height,
            data=data,
            offsets=offsets,
            pts=np.array([p[1] for p in self._packets], np.int64),
            keyframe=np.array([p[2] for p in self._packets], bool),
            settings=asdict(self.settings),
        )


def encode_video(frames: np.ndarray, settings: VideoSettings = VideoSettings()) -> EncodedVideo:
    """Code (T, H, W, 3) uint8 frames in one go."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or len(frames) == 0:
        raise ValueError(f"frames must be (T, H, W, 3) with T >= 1, got {frames.shape}")
    encoder = VideoEncoder(frames.shape[2], frames.shape[1], settings)
    for frame in frames:
        encoder.add(frame)
    return encoder.finish()


def concat_videos(parts: list[EncodedVideo]) -> EncodedVideo:
    """Join takes' windows coded separately, each starting with a keyframe.

    Both elementary streams (and JPEG) stay valid when concatenated at a
    keyframe, so a take rendered in windows of a multiple of K frames gets
    the same keyframe grid as one coded in one go.
    """
    first = parts[0]
    for p in parts:
        if (p.codec, p.width, p.height) != (first.codec, first.width, first.height) or not p.keyframe[0]:
            raise ValueError("concat_videos: parts differ in codec or size, or one starts without a keyframe")
    starts = np.cumsum([0] + [len(p.data) for p in parts])
    frames = np.cumsum([0] + [p.num_frames for p in parts])
    # starts and frames end with the totals, one entry more than parts
    offsets = np.concatenate([p.offsets[:-1] + s for p, s in zip(parts, starts, strict=False)] + [starts[-1:]])
    return EncodedVideo(
        codec=first.codec,
        width=first.width,
        height=first.height,
        data=np.concatenate([p.data for p in parts]),
        offsets=offsets.astype(np.int64),
        pts=np.concatenate([p.pts + f for p, f in zip(parts, frames, strict=False)]),
        keyframe=np.concatenate([p.keyframe for p in parts]),
        settings=first.settings,
    )


# --- decoding ---------------------------------------------------------------------


@dataclass(frozen=True)
class WindowPlan:
    """Which packets and bytes decode frames [start, stop)."""

    first_packet: int
    stop_packet: int
    byte_start: int
    byte_stop: int
    first_frame: int  # the frame the first packet's keyframe displays

    @property
    def decoded_frames(self) -> int:
        return self.stop_packet - self.first_packet


def plan_window(offsets: np.ndarray, pts: np.ndarray, keyframe: np.ndarray, start: int, stop: int) -> WindowPlan:
    """The packet and byte range that decodes frames [start, stop).

    From the last keyframe showing a frame <= ``start`` to the last packet (in
    decode order) showing a frame < ``stop``; every reference of those frames
    lies in between because keyframes are closed-GOP.
    """
    n = len(pts)
    if not 0 <= start < stop <= n:
        raise ValueError(f"frame window [{start}, {stop}) outside 0..{n}")
    keys = np.flatnonzero(keyframe & (pts <= start))
    if len(keys) == 0:
        raise ValueError("no keyframe at or before the window: the stream index is damaged")
    first = int(keys[-1])
    stop_packet = int(np.flatnonzero(pts < stop).max()) + 1
    return WindowPlan(first, stop_packet, int(offsets[first]), int(offsets[stop_packet]), int(pts[first]))


class StreamChecksumError(SynthActError, ValueError):
    """A packet's bytes differ from the checksum stored beside them (the message says which)."""


def packet_crc32(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """CRC-32 (zlib's) of every packet, (P,) uint32: stored next to the stream, checked on read.

    Why per packet, not per stream: a window read checks just the packets it
    decodes, so random access stays random; an export reading a whole take
    checks every packet.
    """
    blob = np.ascontiguousarray(data, np.uint8).tobytes()
    return np.array([zlib.crc32(blob[a:b]) for a, b in itertools.pairwise(offsets)], np.uint32)


@dataclass(frozen=True)
class DecodeRun:
    """Packets decoded in one go from a keyframe, and which of the frames they show are wanted."""

    packets: list[bytes]
    first_frame: int  # the frame the run's keyframe shows
    wanted: list[int]  # frames to return, ascending, all in the run


@dataclass(frozen=True)
class WindowPackets:
    """The bytes of a frame selection, read; decoding them needs no file.

    A reader reads these in its own thread (h5py holds the GIL and its own lock
    while it reads) and may decode them on another (the decoders release it).
    ``runs`` start at keyframes; ``order`` maps the returned frames to the
    distinct frames the runs decode (a selection may repeat or reorder frames).
    """

    codec: str
    runs: list[DecodeRun]
    order: np.ndarray

    @property
    def decoded_frames(self) -> int:
        return sum(len(r.packets) for r in self.runs)

    def decode(self) -> np.ndarray:
        """The selected frames, (len(order), H, W, 3) uint8."""
        distinct = [
            frame
            for run in self.runs
            for frame in (_decode_jpegs(run) if self.codec == "jpeg" else _decode_run(run, self.codec))
        ]
        return np.stack(distinct)[self.order] if len(distinct) else np.zeros((0, 0, 0, 3), np.uint8)


def plan_runs(pts: np.ndarray, keyframe: np.ndarray, wanted: np.ndarray) -> list[tuple[int, int, list[int]]]:
    """(first packet, stop packet, wanted frames) of each decode run for ``wanted`` (sorted, distinct).

    A run continues while reaching the next wanted frame from where it stands
    costs no more than starting again at that frame's keyframe; otherwise a
    new run starts there, so frames between distant picks are never decoded.
    With ``bframes=0`` (decode order = frame order), packet i shows frame i.
    """
    n = len(pts)
    if len(wanted) and (wanted[0] < 0 or wanted[-1] >= n):
        raise ValueError(f"frames {wanted[0]}..{wanted[-1]} outside 0..{n}")
    key_packets = np.flatnonzero(keyframe)
    runs: list[tuple[int, int, list[int]]] = []
    for frame in wanted.tolist():
        i = np.searchsorted(pts[key_packets], frame, side="right") - 1
        if i < 0:
            raise ValueError("no keyframe at or before the window: the stream index is damaged")
        key = int(key_packets[i])
        stop = int(np.flatnonzero(pts <= frame).max()) + 1
        if runs and key <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], stop), [*runs[-1][2], frame])
        else:
            runs.append((key, stop, [frame]))
    return runs


def window_packets(
    data: _Sliceable,
    offsets: np.ndarray,
    pts: np.ndarray,
    keyframe: np.ndarray,
    codec: str,
    start: int,
    stop: int,
    picks: np.ndarray | None = None,
    crc32: np.ndarray | None = None,
) -> WindowPackets:
    """Read the packets that decode the selected frames, and nothing after the last one.

    Args:
        data: The bitstream, or anything sliceable into it without reading
            the rest (an ``h5py.Dataset`` of uint8 reads just the byte range).
        offsets, pts, keyframe: The stream index (module doc).
        codec: ``h264``, ``av1`` or ``jpeg``.
        start, stop: The frame window.
        picks: Frames to return, relative to ``start`` (None: every frame
            of the window); only those are converted to RGB, and runs of
            frames that no pick needs are not decoded.
        crc32: Each packet's stored checksum (``packet_crc32``); every packet
            read is checked against it (None: not checked).
    """
    n = len(pts)
    if not 0 <= start < stop <= n:
        raise ValueError(f"frame window [{start}, {stop}) outside 0..{n}")
    selected = np.arange(start, stop) if picks is None else np.asarray(picks, np.int64) + start
    wanted, order = np.unique(selected, return_inverse=True)
    runs = plan_runs(pts, keyframe, wanted)
    byte_start, byte_stop = int(offsets[runs[0][0]]), int(offsets[runs[-1][1]])
    blob = np.asarray(data[byte_start:byte_stop], np.uint8).tobytes()
    out = []
    for first, last, frames in runs:
        packets = [blob[offsets[i] - byte_start : offsets[i + 1] - byte_start] for i in range(first, last)]
        if crc32 is not None:
            _check_packets(packets, crc32[first:last], first, pts)
        out.append(DecodeRun(packets, int(pts[first]), frames))
    return WindowPackets(codec=codec, runs=out, order=order.reshape(-1))


def _check_packets(packets: list[bytes], expected: np.ndarray, first: int, pts: np.ndarray) -> None:
    for i, (packet, crc) in enumerate(zip(packets, expected, strict=True)):
        if zlib.crc32(packet) != int(crc):
            frame = int(pts[first + i])
            raise StreamChecksumError(f"RGB packet of frame {frame} fails its CRC-32: the bitstream is damaged")


def decode_window(
    data: _Sliceable,
    offsets: np.ndarray,
    pts: np.ndarray,
    keyframe: np.ndarray,
    codec: str,
    start: int,
    stop: int,
) -> np.ndarray:
    """Frames [start, stop) as (n, H, W, 3) uint8, reading only their bytes (``window_packets``)."""
    return window_packets(data, offsets, pts, keyframe, codec, start, stop).decode()


def _decode_jpegs(run: DecodeRun) -> list[np.ndarray]:
    import simplejpeg

    # every JPEG is a keyframe: only the wanted ones are decoded
    return [simplejpeg.decode_jpeg(run.packets[f - run.first_frame], colorspace="RGB") for f in run.wanted]


def _decode_run(run: DecodeRun, codec: str) -> list[np.ndarray]:
    """Decode a run's packets from its keyframe; only the wanted frames are converted to RGB.

    The frames before a wanted one are decoded because later frames refer to them.
    """
    import av
    from av.video.reformatter import VideoReformatter

    if codec not in _DECODERS:
        raise ValueError(f"video codec {codec!r}: expected one of {CODECS}")
    ctx = cast("av.VideoCodecContext", av.CodecContext.create(_DECODERS[codec], "r"))
    ctx.thread_count = 1
    wanted = set(run.wanted)
    out: list[np.ndarray] = []
    reformatter, shown = VideoReformatter(), run.first_frame

    def take(frames: Iterable[av.VideoFrame]) -> None:
        nonlocal shown
        for frame in frames:
            if shown in wanted:
                out.append(reformatter.reformat(frame, format="rgb24").to_ndarray())
            shown += 1

    for blob in run.packets:
        take(ctx.decode(av.Packet(blob)))
    take(ctx.decode(None))
    if len(out) != len(run.wanted):
        raise ValueError(
            f"{codec}: packets from frame {run.first_frame} decoded to {shown - run.first_frame} frames, "
            f"expected {run.wanted[-1] - run.first_frame + 1}"
        )
    return out


def decode_all(video: EncodedVideo) -> np.ndarray:
    """Every frame of ``video`` (tests and benchmarks)."""
    return decode_window(video.data, video.offsets, video.pts, video.keyframe, video.codec, 0, video.num_frames)
