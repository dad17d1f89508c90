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
