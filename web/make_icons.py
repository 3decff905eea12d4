#!/usr/bin/env python3
"""Draws the page's PNG icons (the house of page/icons/icon.svg) without any
image library, so that anyone can make them again:

    python3 web/make_icons.py web/page/icons

A phone's home screen wants PNG icons of 192 and 512 pixels (iOS reads no
SVG); the shapes are the SVG's, in the same 512-unit coordinates.
"""
import os
import struct
import sys
import zlib

GREEN = (0x0b, 0x5d, 0x1e)
WHITE = (0xff, 0xff, 0xff)


def colour(x, y):
    """The colour at (x, y) in the SVG's 512-unit square."""
    # The door is cut out of the house.
    if 224 <= x < 288 and 304 <= y < 416:
        return GREEN
    # The walls.
    if 120 <= x < 392 and 240 <= y < 416:
        return WHITE
    # The roof: a triangle from (80, 240) up to (256, 96) and down to (432, 240).
    if 96 <= y < 240:
        half = (y - 96) * 176 / 144
        if 256 - half <= x < 256 + half:
            return WHITE
    return GREEN


def png(size):
    rows = []
    scale = 512 / size
    for py in range(size):
        row = bytearray([0])
        for px in range(size):
            row += bytes(colour((px + 0.5) * scale, (py + 0.5) * scale))
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


def main():
    out = sys.argv[1]
    for size in (192, 512):
        with open(os.path.join(out, "icon-%d.png" % size), "wb") as f:
            f.write(png(size))


if __name__ == "__main__":
    main()
