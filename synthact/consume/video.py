"""mp4 files for people's training tools: write with PyAV's libx264, read with PyAV.

Why PyAV: its wheel carries FFmpeg with libx264 (GPL-enabled build: see the
licence notes in README), and it is what the AMARV loader and PySlowFast decode
with, so no system ffmpeg is needed and nothing is hand-encoded.

Settings are fixed so that exports are reproducible: constant frame rate, one
frame per ``1/fps`` tick from pts 0, ``preset``/``crf`` given explicitly,
closed GOPs, and one encoder thread (x264's output depends on its thread count).
The mp4 muxer then records the frame count (``nb_frames``) and the duration in
the header, which the AMARV loader reads before decoding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.container import OutputContainer
from av.video.stream import VideoStream

from synthact.consume.exportio import atomic_output

# x264's "visually lossless". PSNR is bounded by 4:2:0 chroma at saturated edges rather
# than by crf: about 32 dB at crf 12-23 on the tests' 160x120 pattern, 28 dB at 64x48.
DEFAULT_CRF = 18
DEFAULT_PRESET = "medium"
PIX_FMTS = ("yuv420p", "yuv444p")


@dataclass(frozen=True)
class ExportVideo:
    """How the video exports (amarv, video-list, depth videos) code their mp4s.

    Made for random access, which is how training reads them: a window of a
    clip starts anywhere, and a loader seeks to the keyframe at or before it,
    then decodes up to the window's end.

    Attributes:
        keyframe_interval: K, a keyframe (IDR, closed GOP) every K frames and
            no scene-cut keyframes in between: a seek decodes at most K - 1
            frames it does not return (x264's default, 250, made a random
            16 x 4 window decode up to 249). 16 by measurement
            (benchmarks/read_speed.py, 320x240): the authors' loader spent the
            least CPU per sample at K = 16 in both runs (K = 8, 32 and 64 cost
            2-8 % more), for 1,121 bytes per frame against 973 at K = 32.
        pix_fmt: ``yuv420p`` (default: what every player and hardware decoder
            takes, and its conversion to RGB costs a third of 4:4:4's) or
            ``yuv444p`` (full-resolution colour, High 4:4:4: FFmpeg-based
            loaders only; sharper chroma on saturated edges).
    """

    keyframe_interval: int = 16
    pix_fmt: str = "yuv420p"

    def __post_init__(self) -> None:
        if self.pix_fmt not in PIX_FMTS:
            raise ValueError(f"export pix_fmt {self.pix_fmt!r}: expected one of {PIX_FMTS}")
        if self.keyframe_interval < 1:
            raise ValueError(f"export keyframe interval {self.keyframe_interval}: expected 1 or more")


EXPORT_VIDEO = ExportVideo()


@dataclass(frozen=True)
class VideoInfo:
    """What a reader learns from an mp4's header, before decoding."""

    frames: int
    duration_s: float
    fps: float
    width: int
    height: int
    codec: str
    pix_fmt: str
    metadata: dict[str, str]


def _rate(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


def write_mp4(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
    pix_fmt: str = "yuv420p",
    gop: int | None = None,
    metadata: dict[str, str] | None = None,
    lossless_rgb: bool = False,
) -> int:
    """Encode RGB frames ((H, W, 3) uint8 each) to an H.264 mp4, atomically.

    ``pix_fmt`` "yuv420p" plays everywhere but needs even sizes; "yuv444p" keeps
    full-resolution colour. ``lossless_rgb`` encodes the RGB values themselves,
    bit-exact (libx264rgb, qp 0: High 4:4:4, which FFmpeg/PyAV decode but browsers
    don't), for data such as depth-as-video. Returns the frame count.
    """
    path = Path(path)
    rate = _rate(fps)
    count = 0
    with atomic_output(path) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        for key, value in (metadata or {}).items():
            container.metadata[key] = value
        stream = None
        for frame in frames:
            frame = _check_frame(path, frame, count)
            if stream is None:
                stream = _open_stream(container, path, frame.shape, rate, crf, preset, pix_fmt, gop, lossless_rgb)
            elif frame.shape[:2] != (stream.height, stream.width):
                raise ValueError(
                    f"{path}: frame {count} is {frame.shape[1]}x{frame.shape[0]}, "
                    f"the video is {stream.width}x{stream.height}"
                )
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = count
            vf.time_base = 1 / rate
            container.mux(stream.encode(vf))
            count += 1
        if stream is None:
            raise ValueError(f"{path}: no frames to write")
        container.mux(stream.encode(None))
    return count


def _check_frame(path: Path, frame: np.ndarray, index: int) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"{path}: frame {index} must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
    return np.ascontiguousarray(frame)


def _open_stream(
    container: OutputContainer,
    path: Path,
    shape: tuple[int, ...],
    rate: Fraction,
    crf: int,
    preset: str,
    pix_fmt: str,
    gop: int | None,
    lossless_rgb: bool,
) -> VideoStream:
    height, width = shape[:2]
    if lossless_rgb:
        pix_fmt = "rgb24"
    elif pix_fmt == "yuv420p" and (height % 2 or width % 2):
        raise ValueError(f"{path}: yuv420p H.264 needs even sizes, got {width}x{height}")
    stream = container.add_stream("libx264rgb" if lossless_rgb else "libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    stream.time_base = 1 / rate
    stream.codec_context.thread_count = 1
    options = {"preset": preset, "threads": "1"}
    options.update({"qp": "0"} if lossless_rgb else {"crf": str(crf)})
    if gop is not None:  # a fixed grid: no shorter GOPs, no scene-cut keyframes
        options.update(g=str(gop), keyint_min=str(gop), sc_threshold="0")
    stream.codec_context.options = options
    return stream


def probe_mp4(path: str | Path) -> VideoInfo:
    """The header's frame count, duration and format, without decoding."""
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
            return VideoInfo(
                frames=int(stream.frames),
                duration_s=duration,
                fps=float(stream.average_rate or stream.guessed_rate or 0),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                codec=stream.codec_context.name,
                pix_fmt=stream.codec_context.pix_fmt or "",
                metadata=dict(container.metadata),
            )
    except (av.error.FFmpegError, IndexError) as err:
        raise ValueError(f"{path}: not a readable video ({err})") from err


def read_mp4(path: str | Path) -> np.ndarray:
    """Decode every frame to (T, H, W, 3) uint8 RGB."""
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except av.error.FFmpegError as err:
        raise ValueError(f"{path}: cannot decode ({err})") from err
    if not frames:
        raise ValueError(f"{path}: no video frames")
    return np.stack(frames)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 arrays, in dB (inf when equal)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
