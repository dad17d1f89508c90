"""Organisation branding as CSS, with text colour chosen for WCAG AA contrast."""

import re

DEFAULT_COLOUR = "#1d4f91"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour_on(background: str) -> str:
    """White or near-black, whichever contrasts more with the background."""
    return "#ffffff" if contrast_ratio(background, "#ffffff") >= contrast_ratio(background, "#111111") else "#111111"


def brand_stylesheet(colour: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour or ""):
        colour = DEFAULT_COLOUR  # never let a stored value write arbitrary CSS
    return (
        ":root {\n"
        f"  --brand: {colour};\n"
        f"  --brand-text: {text_colour_on(colour)};\n"
        "}\n"
    )


# What a school or association may upload as its logo and choose as its colour (the settings page).

MINIMUM_CONTRAST = 4.5  # WCAG 2.2 AA for normal text: white text on the brand colour
LOGO_MAX_UPLOAD_BYTES = 2 * 1024 * 1024
LOGO_MAX_PIXELS = 25_000_000  # a decompression bomb is refused before it is decoded
LOGO_MAX_SIDE = 600  # stored no larger than this, which is plenty for a header, e-mail or PDF


class LogoRefused(ValueError):
    """An uploaded logo that cannot be used; the message says why, in plain English."""


def brand_colour_problem(colour: str) -> str | None:
    """Why white text on `colour` would be hard to read, or None when it reaches 4.5:1."""
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour or ""):
        return "Enter a colour as # and six hex digits, e.g. #1d4f91."
    ratio = contrast_ratio(colour, "#ffffff")
    if ratio < MINIMUM_CONTRAST:
        return (
            f"White text on {colour} has a contrast of {ratio:.1f}:1; it needs at least {MINIMUM_CONTRAST}:1 "
            "to be readable. Choose a darker colour."
        )
    return None


def logo_reencode(data: bytes) -> bytes:
    """The uploaded logo, checked and drawn again by Pillow as a fresh PNG, at most 600 pixels a
    side, with nothing of the original file kept (no metadata, no trailing bytes, no script).
    Raises LogoRefused unless it is a PNG or JPEG image within the limits."""
    import io

    from PIL import Image, UnidentifiedImageError

    if len(data) > LOGO_MAX_UPLOAD_BYTES:
        raise LogoRefused(f"The logo is larger than {LOGO_MAX_UPLOAD_BYTES // (1024 * 1024)} MB. Use a smaller file.")
    # WeasyPrint sets Pillow's LOAD_TRUNCATED_IMAGES for the whole process, so Pillow alone would
    # draw a cut-off file as a half-grey logo: a complete file ends with its format's end marker.
    if not (data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82")) and not (
        data.startswith(b"\xff\xd8") and data.rstrip(b"\0").endswith(b"\xff\xd9")
    ):
        if data.startswith((b"\x89PNG", b"\xff\xd8")):
            raise LogoRefused("The logo file is damaged or incomplete. Save it again as a PNG or JPEG.")
        raise LogoRefused("The logo must be a PNG or JPEG image.")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as image:
            if image.width * image.height > LOGO_MAX_PIXELS:
                raise LogoRefused("The logo has too many pixels. Use an image under 5,000 by 5,000 pixels.")
            image.load()
            image = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB")
    except UnidentifiedImageError:
        raise LogoRefused("The logo must be a PNG or JPEG image.") from None
    except (OSError, SyntaxError, Image.DecompressionBombError):
        raise LogoRefused("The logo file is damaged or incomplete. Save it again as a PNG or JPEG.") from None
    image.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
