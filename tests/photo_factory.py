"""Real JPEGs with real EXIF (GPS position, compass bearing, capture time) written with Pillow."""

from __future__ import annotations

import datetime as dt
import io
from fractions import Fraction

from PIL import Image, TiffImagePlugin


def _dms(value: float) -> tuple[TiffImagePlugin.IFDRational, ...]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    frac = Fraction(s).limit_denominator(10_000)
    return (TiffImagePlugin.IFDRational(d, 1), TiffImagePlugin.IFDRational(m, 1),
            TiffImagePlugin.IFDRational(frac.numerator, frac.denominator))


def jpeg_with_exif(lat: float, lon: float, bearing: float, taken: dt.datetime, *, seed: int = 0) -> bytes:
    """A 64×48 JPEG whose EXIF says where, which way and when (DateTimeOriginal with its offset)."""
    return photo_with_exif(lat, lon, bearing, taken, seed=seed, fmt="JPEG")


def heic_with_exif(lat: float, lon: float, bearing: float, taken: dt.datetime, *, seed: int = 0) -> bytes:
    """The same as a HEIC (an iPhone's default format), encoded by libheif through pillow-heif."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return photo_with_exif(lat, lon, bearing, taken, seed=seed, fmt="HEIF")


def photo_with_exif(lat: float, lon: float, bearing: float, taken: dt.datetime, *, seed: int, fmt: str,
                    image: Image.Image | None = None) -> bytes:
    """`image` (default: a 64×48 pattern) encoded as `fmt` with the EXIF a phone writes."""
    img = image
    if img is None:
        img = Image.new("RGB", (64, 48), (seed * 37 % 256, 120, 90))
        for x in range(0, 64, 8):
            for y in range(0, 48, 8):
                img.putpixel((x, y), ((x * 7 + seed) % 256, (y * 5) % 256, 200))
    exif = Image.Exif()
    exif[0x010F] = "RedlineTest"
    exif[0x0110] = "FieldPhone"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
    gps[16], gps[17] = "T", TiffImagePlugin.IFDRational(Fraction(bearing).limit_denominator(100))
    sub = exif.get_ifd(0x8769)
    sub[36867] = taken.strftime("%Y:%m:%d %H:%M:%S")
    offset = taken.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sub[36881] = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    buffer = io.BytesIO()
    img.save(buffer, fmt, exif=exif.tobytes(), quality=90)
    return buffer.getvalue()


def jpeg_at_house(footprint: object, taken: dt.datetime, *, srid: int = 4546, seed: int = 0) -> bytes:
    """A JPEG taken `taken`, 10 m south of the footprint's centroid (county CRS), facing north at it."""
    import shapely
    from pyproj import Transformer

    centre = shapely.centroid(footprint)
    lon, lat = Transformer.from_crs(srid, 4326, always_xy=True).transform(centre.x, centre.y - 10)
    return jpeg_with_exif(lat, lon, 0.0, taken, seed=seed)


def damaged_jpeg(data: bytes) -> bytes:
    """`data` (a baseline or progressive JPEG) with its frame header pointing every component at quantization
    table 3, which the file does not define: every marker is still in place to the end-of-image, the EXIF still
    reads, but libjpeg refuses to decode a pixel — a complete file whose image data is damaged."""
    out = bytearray(data)
    pos = 2
    while out[pos + 1] not in (0xC0, 0xC1, 0xC2):
        pos += 2 + int.from_bytes(out[pos + 2:pos + 4], "big")
    for component in range(out[pos + 9]):
        out[pos + 10 + 3 * component + 2] = 3
    return bytes(out)
